"""The embedded local stack: the real pipeline's parts as local processes, no Docker."""
