"""LLM roles: coherence judge (and crowd), namer, K predictor, inspector."""
