"""A faker-based generator: a deterministic seed and a live stream of shop transactions."""
