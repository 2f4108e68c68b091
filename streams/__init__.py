"""streams: see DESIGN.md."""
