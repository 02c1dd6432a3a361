"""Shared test helpers (importable because pytest adds tests/ to sys.path)."""
