"""Benchmarks: each measures something, prints a table and appends `benchmarks.results.Row`s to results/."""
