"""What the bot says in the safety layer (French, « tu », phone-sized).

Numbers are Markdown links (``[3114](tel:3114)``): the web chat makes them
tappable; the Telegram and Messenger connectors show the plain number
(``channels.common.plain_text``), Messenger adds call buttons where it can.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

from bot.safety.helplines import Contact, HelpLine, Helplines

Message = Dict[str, Any]

GO_ON_BUTTONS = [
    {"title": "Continuer ici", "payload": "/help"},
    {"title": "Arrêter pour l'instant", "payload": "/goodbye"},
]

OPENERS = [  # first matching category gives the first words
    (("suicide", "self_harm"),
     "Merci de me l'avoir dit 💛 Ce que tu vis a l'air très lourd, et tu n'as pas à le porter seul·e."),
    (("sexual_violence", "violence_home", "violence_couple", "child_danger"),
     "Merci de me l'avoir dit 💛 Personne n'a le droit de te faire du mal. Ce n'est pas de ta faute."),
    (("harassment",),
     "Merci de me l'avoir dit 💛 Ce qu'on te fait subir n'est pas normal, et ce n'est pas de ta faute."),
    (("no_shelter", "hunger"),
     "Merci de me l'avoir dit 💛 Tu as le droit d'être aidé·e, dès ce soir."),
    (("distress",),
     "Merci de me le dire 💛 Ça a l'air vraiment dur en ce moment."),
]
PEOPLE_CAN_HELP = "Moi, je suis un robot. Mais des personnes peuvent t'aider maintenant, gratuitement :"
STAY = "Je reste là. Tu veux continuer ici, ou arrêter pour l'instant ?"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def tel_link(label: str, number: Optional[str] = None, sms: bool = False) -> str:
    return f"[{label}]({'sms' if sms else 'tel'}:{_digits(number or label)})"


def short_hours(hours: str) -> str:
    if "24h/24" in hours:
        return "24h/24"
    return hours.split(" (")[0].replace("tous les jours, ", "").replace("7j/7, ", "")


def line_text(line: HelpLine) -> str:
    """One help line: tappable number, what it is for, when."""
    if line.id == "112":
        return f"🚨 {tel_link('112')} ou {tel_link('17')} : {line.purpose}"
    if line.sms:
        return f"💬 SMS au {tel_link(line.display, line.number, sms=True)} : {line.purpose}"
    name = "" if line.id.isdigit() else f"{line.name} "
    return f"📞 {name}{tel_link(line.display, line.number)} : {line.purpose} ({short_hours(line.hours)})"


def opener(categories: Sequence[str]) -> str:
    for names, text in OPENERS:
        if any(c in names for c in categories):
            return text
    return OPENERS[-1][1]


def crisis_messages(categories: Sequence[str], helplines: Helplines) -> List[Message]:
    """The answer to a crisis message: warm words, the right lines, go on or stop."""
    lines = helplines.for_categories(categories)
    body = "  \n".join(line_text(line) for line in lines)
    return [
        {"text": f"{opener(categories)}  \n{PEOPLE_CAN_HELP}"},
        {"text": body},
        {"text": STAY, "buttons": GO_ON_BUTTONS},
    ]


CHECK_IN_OPENER = "Au fait 💛 si ça ne va pas fort en ce moment, tu peux en parler à quelqu'un, gratuitement :"


def check_in_message(categories: Sequence[str], helplines: Helplines) -> Message:
    """One line after the usual answer when a message might hide a crisis (the model's
    check-in tier, channels/check_in.py): two numbers, no button, the conversation goes on."""
    lines = helplines.for_categories(["distress", *categories], limit=2)
    return {"text": CHECK_IN_OPENER + "  \n" + "  \n".join(line_text(line) for line in lines)}


def _contact_link(contact: str) -> str:
    if "@" in contact and not contact.startswith("http"):
        return f"[{contact}](mailto:{contact})"
    if contact.startswith("https://"):
        return contact
    return tel_link(contact)


def human_messages(partner: Optional[tuple[str, str, str]], helplines: Helplines,
                   distress_seen: bool) -> List[Message]:
    """« Je veux parler à un humain »: honest about being a bot, and a real person to reach.
    ``partner`` = (group name, contact name, contact) when the person's group has one."""
    text = "Je suis un robot 🤖, pas une personne. Mais tu peux parler à quelqu'un de vrai :"
    if partner is not None:
        group, name, contact = partner
        people = [f"👤 {name} ({group}) : {_contact_link(contact)}"]
    else:
        people = [_people_line(p) for p in helplines.people]
    messages: List[Message] = [{"text": text}, {"text": "  \n".join(people)}]
    if distress_seen:
        lines = helplines.for_categories(["distress"])
        messages.append({"text": "Et si ça ne va pas, tout de suite :  \n"
                                 + "  \n".join(line_text(line) for line in lines)})
    messages.append({"text": "Je reste là si tu veux continuer avec moi.", "buttons": GO_ON_BUTTONS})
    return messages


def _people_line(contact: Contact) -> str:
    return f"👤 {contact.name} : {contact.url}"


EXAMPLES_FR = ["J'ai travaillé dans un restaurant.", "J'aide ma famille."]
# the same person writing again in another language gets other easy sentences
MORE_EXAMPLES_FR = [EXAMPLES_FR, ["Je fais du sport en club.", "J'ai gardé des enfants."],
                    ["J'ai fait du bénévolat.", "J'ai aidé pour un déménagement."]]
OTHER_LANGUAGE = {
    "en": "Hi 👋 I only speak French for now. Write to me in simple French, like:",
    "es": "¡Hola! 👋 Por ahora solo hablo francés. Escríbeme en francés sencillo, por ejemplo:",
    "ar-latn": "Salam 👋 Ana kanhder ghir b lfransawiya daba. Kteb liya b fransawiya sahla, b7al:",
}
OTHER_LANGUAGE_TAP = {
    "en": "Tap one to start 👇",
    "es": "Toca una para empezar 👇",
    "ar-latn": "Clique 3la wa7da bach nbdaw 👇",
}


def other_language_messages(language: str, times_before: int = 0) -> List[Message]:
    """A short answer in the person's language, with two easy French sentences to start
    (other sentences the ``times_before + 1``-th time in a session)."""
    lang = language if language in OTHER_LANGUAGE else "en"
    pair = MORE_EXAMPLES_FR[times_before % len(MORE_EXAMPLES_FR)]
    examples = "  \n".join(f"« {e} »" for e in pair)
    return [
        {"text": f"{OTHER_LANGUAGE[lang]}  \n{examples}"},
        {"text": OTHER_LANGUAGE_TAP[lang],
         "buttons": [{"title": e, "payload": e} for e in pair]},
    ]
