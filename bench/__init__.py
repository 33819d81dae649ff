"""Benchmarks: they print figures and are never part of `make test`."""
