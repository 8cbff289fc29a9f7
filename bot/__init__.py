"""Atouts: discover, prove and grow soft skills — the project's domain package."""
