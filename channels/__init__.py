"""Input/output connectors (Telegram, Messenger, partner web widget) — see README."""
