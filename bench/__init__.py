"""Benchmarks run by ``make bench``: knowledge search and per-turn overhead."""
