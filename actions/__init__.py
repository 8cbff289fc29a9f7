"""Rasa custom actions (thin: the logic is in ``bot/``)."""
import os

if os.environ.get("ATOUTS_WARM_UP") == "1":  # set by bot.launcher for the action server
    from bot import services

    services.warm_up()
