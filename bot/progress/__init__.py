"""Progresser: the catalogue of free learning resources and the recommendation.

``bot.progress.catalogue`` loads and validates ``data/catalogue/resources/``;
``bot.progress.recommend`` picks a few resources for a person (pure, deterministic).
"""
