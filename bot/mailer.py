"""Email of a referent invitation, when SMTP is configured (ATOUTS_SMTP_*).

The address is used once, to send, and never stored or logged: only the referent's
first name and relationship are kept (see bot.storage.models.Invitation).
"""
from __future__ import annotations

import logging
import re
import smtplib
from email.message import EmailMessage
from typing import Optional

from bot.config import Settings

log = logging.getLogger(__name__)

EMAIL_MAX = 254
DEFAULT_FROM = "Atouts <no-reply@localhost>"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def clean_email(text: Optional[str]) -> Optional[str]:
    """The address in an answer ("c'est karim@club.fr"), or None."""
    for word in (text or "").replace(",", " ").split():
        word = word.strip(".;:!?()<>«»\"'")
        if len(word) <= EMAIL_MAX and _EMAIL.match(word):
            return word
    return None


def invitation_email(sender: str, to: str, referent_name: str, person_name: str, url: str,
                     days: int) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"{person_name} aimerait ton avis"
    message["From"] = sender
    message["To"] = to
    message.set_content(
        f"Bonjour {referent_name},\n\n"
        f"{person_name} utilise Atouts pour faire reconnaître ses compétences et aimerait "
        f"ton avis : tu l'as vu agir, ton regard compte.\n\n"
        f"Ça prend 3 minutes, sans compte à créer :\n{url}\n\n"
        f"Le lien marche une seule fois, pendant {days} jours.\n\n"
        f"Merci !\nAtouts\n"
    )
    return message


def verification_email(sender: str, to: str, code: str, person_name: str, minutes: int) -> EmailMessage:
    """The one-time code that proves a referent controls the address they gave."""
    message = EmailMessage()
    message["Subject"] = f"Ton code Atouts : {code}"
    message["From"] = sender or DEFAULT_FROM
    message["To"] = to
    message.set_content(
        f"Bonjour,\n\n"
        f"Tu viens de donner ton avis sur {person_name} dans Atouts. Pour qu'il compte, "
        f"recopie ce code sur la page :\n\n    {code}\n\n"
        f"Il marche {minutes} minutes. Si ce n'est pas toi, ignore ce message : "
        f"rien ne sera pris en compte.\n\nAtouts\n"
    )
    return message


def send(settings: Settings, message: EmailMessage) -> bool:
    """Send through the configured SMTP server; False (logged without address) on failure."""
    if not settings.email_enabled:
        return False
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("invitation email not sent (%s)", type(exc).__name__)
        return False
