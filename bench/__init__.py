"""Benchmarks for cronmonitor: one module per benchmark, each runnable as `python -m bench.X`."""
