"""CDC streaming replicator: shared core (CLI, settings, errors, source schema, local stack)."""
