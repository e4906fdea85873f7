"""Benchmarks: `python -m bench` runs them all; each module also runs alone."""


class BenchmarkSkipped(Exception):
    """Raised by a benchmark's run() when a prerequisite is missing; the report records the reason."""
