"""tierline.core: what every layer shares and nothing else — errors and exit codes, the
OpenAI-compatible LLM client. It imports no other Tierline package."""
