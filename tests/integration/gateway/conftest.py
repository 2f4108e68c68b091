"""Gateway fixtures live in tests/conftest.py (the end-to-end tests use them too)."""
