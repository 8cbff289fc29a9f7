"""The project's web app (chat page, health, personal data export)."""
from bot.web.app import create_app

__all__ = ["create_app"]
