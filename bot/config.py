"""Settings read from the environment (see `.env.example`), with embedded defaults."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(?::\d{1,5})?$")


def parse_origins(text: str) -> tuple:
    """"https://a.org, http://localhost:3000" -> ("https://a.org", "http://localhost:3000");
    anything that is not a bare origin is refused loudly (a typo must not open the widget)."""
    origins = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        origin = item.rstrip("/").lower()
        if not _ORIGIN.match(origin):
            raise ValueError(f"ATOUTS_WIDGET_ORIGINS : « {item} » n'est pas une origine (https://site.org)")
        origins.append(origin)
    return tuple(dict.fromkeys(origins))


def parse_networks(text: str) -> tuple:
    """"127.0.0.1, 10.0.0.0/8" -> (ip_network('127.0.0.1/32'), ip_network('10.0.0.0/8')):
    the reverse proxies whose X-Forwarded-For is believed (ATOUTS_TRUSTED_PROXIES)."""
    import ipaddress

    networks = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"ATOUTS_TRUSTED_PROXIES : « {item} » n'est pas une adresse IP ou un réseau") from None
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    db_url: str
    rasa_url: str
    public_rasa_url: str
    public_url: str
    web_host: str
    web_port: int
    rasa_token: str
    export_ttl_seconds: int
    var_dir: Path  # generated data: keys, badge status list, secrets (git-ignored)
    invitation_ttl_seconds: int  # referent links
    engagement_api_url: str = ""  # API Engagement (missions); empty key = offline catalogue
    engagement_api_key: str = ""
    follow_up_seconds: int = 5 * 24 * 3600  # follow-up reminder after resources/missions
    widget_origins: tuple = ()  # partner sites allowed to embed the widget (scheme://host[:port])
    referent_get_limit: int = 30  # per client address and 10 minutes, on /referent/*
    referent_post_limit: int = 10
    referent_token_limit: int = 30  # requests per referent link and 10 minutes, whatever the address
    trusted_proxies: tuple = ()  # ip networks whose X-Forwarded-For is read (right to left)
    smtp_host: str = ""  # empty: no email, the person forwards the referent link themselves
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_starttls: bool = True
    retention_days: int = 365  # people inactive longer are erased (bot.privacy.retention)
    retention_notice_days: int = 30  # told this long before, at least
    story_idle_hours: int = 24  # an unfinished story without consent is forgotten after this
    scheduler_poll_seconds: float = 30.0  # how often the web app sends the due follow-ups

    @classmethod
    def from_env(cls) -> "Settings":
        web_port = int(_env("ATOUTS_WEB_PORT", "8080"))
        rasa_url = _env("ATOUTS_RASA_URL", "http://localhost:5005")
        return cls(
            db_url=_env("ATOUTS_DB_URL", f"sqlite:///{ROOT / 'var' / 'atouts.db'}"),
            rasa_url=rasa_url.rstrip("/"),
            public_rasa_url=_env("ATOUTS_PUBLIC_RASA_URL", rasa_url).rstrip("/"),
            public_url=_env("ATOUTS_PUBLIC_URL", f"http://localhost:{web_port}").rstrip("/"),
            web_host=_env("ATOUTS_WEB_HOST", "127.0.0.1"),
            web_port=web_port,
            rasa_token=_env("ATOUTS_RASA_TOKEN", ""),
            export_ttl_seconds=int(_env("ATOUTS_EXPORT_TTL", "3600")),
            var_dir=Path(_env("ATOUTS_VAR_DIR", str(ROOT / "var"))),
            invitation_ttl_seconds=int(_env("ATOUTS_INVITATION_TTL", str(30 * 24 * 3600))),
            engagement_api_url=_env("ATOUTS_ENGAGEMENT_API_URL", ""),
            engagement_api_key=_env("ATOUTS_ENGAGEMENT_API_KEY", ""),
            follow_up_seconds=int(_env("ATOUTS_FOLLOW_UP_SECONDS", str(5 * 24 * 3600))),
            widget_origins=parse_origins(_env("ATOUTS_WIDGET_ORIGINS", "")),
            referent_get_limit=int(_env("ATOUTS_REFERENT_GET_LIMIT", "30")),
            referent_post_limit=int(_env("ATOUTS_REFERENT_POST_LIMIT", "10")),
            referent_token_limit=int(_env("ATOUTS_REFERENT_TOKEN_LIMIT", "30")),
            trusted_proxies=parse_networks(_env("ATOUTS_TRUSTED_PROXIES", "")),
            smtp_host=_env("ATOUTS_SMTP_HOST", ""),
            smtp_port=int(_env("ATOUTS_SMTP_PORT", "587")),
            smtp_user=_env("ATOUTS_SMTP_USER", ""),
            smtp_password=_env("ATOUTS_SMTP_PASSWORD", ""),
            smtp_from=_env("ATOUTS_SMTP_FROM", "Atouts <no-reply@localhost>"),
            smtp_starttls=_env("ATOUTS_SMTP_STARTTLS", "1") not in ("0", "false", "non", "no"),
            retention_days=int(_env("ATOUTS_RETENTION_DAYS", "365")),
            retention_notice_days=int(_env("ATOUTS_RETENTION_NOTICE_DAYS", "30")),
            story_idle_hours=int(_env("ATOUTS_STORY_IDLE_HOURS", "24")),
            scheduler_poll_seconds=max(0.2, float(_env("ATOUTS_SCHEDULER_POLL", "30"))),
        )

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)
