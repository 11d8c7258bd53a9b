"""Engines: every backend lchat can chat with, behind one contract (no Textual here)."""
