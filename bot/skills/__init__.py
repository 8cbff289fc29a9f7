"""Soft-skill detection and proposal (plain Python, no Rasa needed)."""
from bot.skills.detector import SkillDetector, SkillScore
from bot.skills.proposal import Proposal, aggregate, propose

__all__ = ["SkillDetector", "SkillScore", "Proposal", "aggregate", "propose"]
