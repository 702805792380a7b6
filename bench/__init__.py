"""Benchmarks: `bench/run` produces every figure in docs/BENCHMARKS.md."""
