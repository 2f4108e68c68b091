"""The end-to-end fixtures (a real stream worker, a corner of the city) for the security tests that cross it."""

from tests.e2e.conftest import corner, worker

__all__ = ["corner", "worker"]
