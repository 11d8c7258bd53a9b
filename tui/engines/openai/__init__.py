"""OpenAI-compatible servers (LM Studio, LocalAI, llama-server, vLLM), through the official openai client."""
