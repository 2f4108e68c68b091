"""simulators: see DESIGN.md."""
