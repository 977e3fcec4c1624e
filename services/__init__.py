"""Logic that is not HTTP: password hashing, tokens, API keys, seeding."""
