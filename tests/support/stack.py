"""Start the real local stack for a test session: free ports, a throwaway directory."""

from __future__ import annotations

from civicgrid.settings import Settings
from civicgrid.stack.ephemeral import as_environment, ephemeral_settings, free_ports

__all__ = ["free_ports", "settings_env", "test_settings"]


def test_settings() -> Settings:
    return ephemeral_settings()


test_settings.__test__ = False  # a factory, not a test


settings_env = as_environment
