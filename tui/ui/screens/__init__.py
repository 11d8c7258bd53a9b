"""Screens and modal dialogs: the main screen that composes the panes, and every dialog it opens."""
