"""The main screen's controllers: plain objects the screen owns, siblings sharing one ChatState (see state.py)."""
