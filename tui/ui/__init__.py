"""The Textual app: screens coordinate services, widgets only display and post intent."""
