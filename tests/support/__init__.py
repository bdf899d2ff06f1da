"""Helpers and fixtures shared by the tests (fixtures are registered in tests/conftest.py)."""
