"""Benchmarks: each module is run with `python -m bench.<name>` and ends with JSON lines."""
