"""Test doubles that are real implementations: a district that signs on demand."""
