"""The Ollama backend: one engine per configured daemon, through the official ollama client."""
