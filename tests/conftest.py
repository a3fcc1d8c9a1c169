"""Shared pytest configuration for all test tiers (unit, sim, integration, loopback, system).

Tool settings (markers, strictness, warnings as errors) live in pyproject.toml.
"""
