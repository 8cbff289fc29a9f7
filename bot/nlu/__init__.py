"""Rasa NLU components of Atouts (French tokenisation, soft-skill detection)."""
