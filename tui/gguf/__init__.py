"""The GGUF file format: reading a model file's header, and the KV cache shape its keys describe.

Below both tui.engines and tui.models (and tui.fit): nothing here imports them, so either may
read a GGUF header without importing the other.
"""
