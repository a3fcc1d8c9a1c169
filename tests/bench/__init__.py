"""Smoke runs of the benchmarks: they run and report sane figures (never timed assertions)."""
