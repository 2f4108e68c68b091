"""Faust agents, one module per job."""
