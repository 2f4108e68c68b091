"""simulators: see docs/architecture.md."""
