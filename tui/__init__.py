"""lchat: a keyboard-driven terminal chat client for local LLMs."""

__version__ = "0.1.0"
