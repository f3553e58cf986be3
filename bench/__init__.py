"""Benchmarks that print figures (run each file directly; see its docstring)."""
