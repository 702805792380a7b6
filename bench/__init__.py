"""Benchmarks: what each command measures and which doc tables it writes is in bench/README.md."""
