"""The embedded engine: llama-cpp-python in a child process of lchat, with GGUF files found on disk."""
