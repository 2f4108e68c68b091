"""The API tests' fixtures live in tests/support/api_fixtures.py (shared with tests/security/)."""

from tests.support.api_fixtures import CELLS, PASSWORD, USERS, http, wait_for

__all__ = ["CELLS", "PASSWORD", "USERS", "http", "wait_for"]
