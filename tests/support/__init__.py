"""Helpers shared by the integration and end-to-end tests (real clients, no mocks)."""
