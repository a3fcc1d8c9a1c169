"""Benchmarks (not tests): each figure with a baseline measured in the same run."""
