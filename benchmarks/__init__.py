"""Performance harness: `python -m benchmarks --help`."""
