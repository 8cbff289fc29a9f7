"""French messages built from data (skills, profile...). Static ones live in domain.yml.

House style: short, warm, concrete, simple French, "tu", one idea per message.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from bot.referentiel import Referentiel, Skill
from bot.skills.proposal import Proposal
from bot.storage import SkillSummary

NOTICE_VERSION = "2026-11-v1"

MENU_BUTTONS = [
    {"title": "Raconter une expérience", "payload": "/want_to_tell"},
    {"title": "Voir mes compétences", "payload": "/show_my_skills"},
]
CONFIRM_BUTTONS = [
    {"title": "Oui, c'est moi", "payload": "/affirm"},
    {"title": "Pas vraiment", "payload": "/deny"},
]

COMING_SOON = {
    "start_assessment": "Le questionnaire pour prouver une compétence, avec l'avis de ton coach ou de ton tuteur, arrive très bientôt 🛠️",
    "invite_referent": "Inviter quelqu'un qui te connaît (coach, tuteur, prof…) pour confirmer tes compétences : ça arrive très bientôt 🛠️",
    "show_my_badges": "Les badges à mettre sur ton CV ou sur LinkedIn arrivent très bientôt 🛠️",
    "find_resources": "Les vidéos et conseils pour progresser arrivent très bientôt 🛠️",
    "find_missions": "Les missions de bénévolat près de chez toi arrivent très bientôt 🛠️",
}
COMING_SOON_NEXT = "En attendant, on peut repérer tes compétences : raconte-moi une expérience !"

INTENT_LABELS: Dict[str, str] = {
    "greet": "dire bonjour",
    "goodbye": "dire au revoir",
    "affirm": "oui",
    "deny": "non",
    "thank": "dire merci",
    "help": "savoir ce que je sais faire",
    "bot_challenge": "savoir si je suis un robot",
    "want_to_tell": "raconter une expérience",
    "tell_experience": "raconter une expérience",
    "ask_what_are_soft_skills": "savoir ce qu'est une compétence",
    "show_my_skills": "voir tes compétences",
    "start_assessment": "tester une compétence",
    "invite_referent": "inviter quelqu'un à te recommander",
    "show_my_badges": "voir tes badges",
    "find_resources": "trouver des ressources pour progresser",
    "find_missions": "trouver une mission de bénévolat",
    "delete_my_data": "effacer tes données",
    "export_my_data": "récupérer tes données",
    "stop": "arrêter ce qu'on fait",
    "skip": "passer cette question",
    "give_name": "me donner ton prénom",
    "insult": "râler un peu",
    "out_of_scope": "autre chose",
}


def consent_answer(given: bool) -> str:
    if given:
        return "Merci 🙏 Je garde juste ce qu'il faut pour ton profil."
    return "Pas de souci 👍 Je ne garde rien de plus que notre conversation. On peut quand même discuter !"


def after_name(first_name: Optional[str]) -> str:
    if first_name:
        return f"Trop bien, {first_name} 🙂"
    return "Pas de souci 🙂"


def proposals_intro(count: int, first_name: Optional[str]) -> str:
    thanks = f"Merci {first_name} 🙏" if first_name else "Merci 🙏"
    if count == 1:
        return f"{thanks} Dans ce que tu racontes, je vois une compétence. Dis-moi si elle te ressemble."
    return f"{thanks} Dans ce que tu racontes, je vois {count} compétences. Dis-moi si elles te ressemblent."


def no_proposal() -> str:
    return (
        "Merci pour ton histoire 🙏 Je n'arrive pas encore à y voir une compétence précise. "
        "Ça ne veut pas dire qu'il n'y en a pas ! Essaie de me raconter ce que tu as fait, toi, à un moment."
    )


def proposal_question(skill: Skill, proposal: Proposal) -> str:
    lines = [skill.title]
    if proposal.evidence:
        lines.append(f"On le voit quand tu dis « {proposal.evidence} »")
    lines.append("Tu te reconnais ?")
    return "  \n".join(lines)


def summary(skills: Sequence[Skill], stored: bool) -> str:
    if not skills:
        return "OK, merci d'avoir été honnête 👍 Ton histoire compte quand même."
    names = ", ".join(s.title for s in skills)
    if stored:
        return f"Bravo 🎉 J'ajoute à ton profil : {names}."
    return f"Bravo 🎉 Tu as montré : {names}. (Je ne garde rien, comme tu l'as choisi.)"


def profile(summaries: Sequence[SkillSummary], referentiel: Referentiel) -> List[str]:
    """The profile as a few short messages."""
    if not summaries:
        return ["Ton profil est encore vide. Raconte-moi une expérience pour commencer !"]
    lines = []
    for s in summaries:
        skill = referentiel.get(s.skill_id)
        if skill is None:
            continue
        times = "1 expérience" if s.count == 1 else f"{s.count} expériences"
        lines.append(f"{skill.title} ({times})")
    return ["Tes compétences repérées 💪  \n" + "  \n".join(lines)]


def explain_skill(skill: Skill) -> str:
    examples = [s.text for s in skill.situations[:2]]
    text = f"{skill.title}  \n{skill.definition}"
    if examples:
        text += "  \nPar exemple : " + " Ou : ".join(examples)
    return text


def explain_soft_skills(referentiel: Referentiel) -> str:
    some = ", ".join(s.label.lower() for s in list(referentiel.skills.values())[:3])
    return (
        "Les compétences transversales (ou « savoir-être »), c'est ta façon d'agir : "
        f"{some}… Tu les as construites partout : au boulot, en famille, au sport. "
        "Les recruteurs les regardent autant que les diplômes 💡  \n"
        "Demande-moi par exemple « c'est quoi la rigueur ? »"
    )


def export_link(url: str, ttl_seconds: int) -> str:
    minutes = max(1, ttl_seconds // 60)
    validity = "1 h" if minutes == 60 else f"{minutes} min"
    return f"Voici tout ce que je garde sur toi 📦 (lien valable {validity}, une seule fois) :  \n{url}"


def export_nothing() -> str:
    return (
        "Je n'ai rien gardé sur toi à part notre conversation, puisque tu n'as pas donné ton accord. "
        "Tu peux l'effacer quand tu veux : écris « supprime mes données »."
    )


def erased() -> str:
    return "C'est fait 🧹 J'ai tout effacé : ton profil et notre conversation. Si tu reviens, on repart de zéro."


def not_erased() -> str:
    return "OK, je ne touche à rien 👍"


def ask_affirmation(intent: str) -> str:
    return f"Tu veux {INTENT_LABELS.get(intent, 'autre chose')} ?"


def name_not_understood() -> str:
    return "Juste ton prénom, ou appuie sur « Passer » 🙂"


YES_NO_CONSENT = [
    {"title": "Oui, ça me va", "payload": "/affirm"},
    {"title": "Non, juste discuter", "payload": "/deny"},
]

# What each form asks, slot by slot: (text, buttons).
ASK: Dict[str, tuple] = {
    "consent": (
        "Avant de commencer, un mot sur tes données 🔒  \n"
        "Si tu es d'accord, je garde ton prénom, tes expériences et tes compétences, juste pour construire ton profil. "
        "Je ne les vends à personne.  \n"
        "Tu peux tout effacer quand tu veux : écris « supprime mes données ».",
        YES_NO_CONSENT,
    ),
    "first_name": (
        "Comment tu veux que je t'appelle ? (Ton prénom suffit, et ce n'est pas obligé.)",
        [{"title": "Passer", "payload": "/skip"}],
    ),
    "experience_story": (
        "Raconte-moi une expérience que tu as vécue ✍️  \n"
        "Un petit job, un coup de main en famille, du sport, du bénévolat, un déménagement… Tout compte !",
        [],
    ),
    "experience_action": ("Et toi, concrètement, tu faisais quoi ?", []),
    "experience_difficulty": (
        "Il y a eu un moment pas facile ? Comment tu as géré ?",
        [{"title": "Pas vraiment", "payload": "Pas de difficulté particulière"}],
    ),
    "experience_result": ("Et au final, ça a donné quoi ?", []),
    "delete_confirmed": (
        "Tu veux vraiment tout effacer ? Ton prénom, tes expériences, tes compétences et notre conversation. "
        "On ne pourra pas revenir en arrière.",
        [
            {"title": "Oui, tout effacer", "payload": "/affirm"},
            {"title": "Non, garder", "payload": "/deny"},
        ],
    ),
}

STORY_TOO_SHORT = "Dis-m'en un peu plus 🙂 Où c'était, avec qui, ce que tu faisais…"
USE_BUTTONS = "Dis-moi juste si ça te ressemble 🙂"
REPHRASE = "Je n'ai pas bien compris 🤔 Tu peux le dire autrement ?"
DEFAULT_FALLBACK = "Désolé, je ne comprends toujours pas 😅 Voilà ce que je sais faire :"
FALLBACK_BUTTONS = MENU_BUTTONS + [
    {"title": "C'est quoi une compétence ?", "payload": "/ask_what_are_soft_skills"},
]
RESUME_CONFIRMATIONS = "On reprend là où on s'était arrêté 👇"
