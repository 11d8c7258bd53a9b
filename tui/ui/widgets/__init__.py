"""Widgets: they show what they are given and post messages; no SQL, no HTTP, no engines."""
