"""Benchmarks: each measures something, prints a table and appends `core.results.Row`s to results/."""
