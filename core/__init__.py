"""The shared core every stage builds on: settings, errors, topics, dead letters,
the source schema, the Kafka Connect client, health heartbeats and verification.

The core imports no stage and no part of the application layer (``cdc``);
tests/unit/test_layers.py holds it to that.
"""
