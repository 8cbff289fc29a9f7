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
    "choose": "choisir cette réponse",
    "manage_invitations": "voir ou annuler tes invitations",
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


# --- Challenger: self-assessment, referents, levels, badges ---------------------------

def choose(entity: str, value: str) -> str:
    """A button payload that carries its answer as an entity (no NLU guesswork)."""
    return '/choose{"%s":"%s"}' % (entity, value)


SCALE_LABELS = ("Jamais", "Parfois", "Souvent", "Toujours")
SCALE_BUTTONS = [{"title": label, "payload": choose("scale", str(n))} for n, label in enumerate(SCALE_LABELS)]
SKIP_BUTTON = {"title": "Passer", "payload": "/skip"}
LEVEL_NAMES = {"en_progression": "en progression", "confirme": "confirmé", "expert": "expert"}
RELATION_LABELS: Dict[str, str] = {
    "coach": "ton coach",
    "tuteur": "ton tuteur de stage",
    "responsable_benevole": "ton responsable bénévole",
    "enseignant": "ton prof",
    "employeur": "ton employeur",
    "collegue": "ton collègue",
    "autre": "quelqu'un qui te connaît",
}
RELATION_BUTTONS = [
    {"title": title, "payload": choose("relation", rel)}
    for rel, title in [
        ("coach", "Coach"), ("tuteur", "Tuteur de stage"), ("responsable_benevole", "Responsable bénévole"),
        ("enseignant", "Prof"), ("employeur", "Employeur"), ("collegue", "Collègue"), ("autre", "Autre"),
    ]
]
ALL_SKILLS = "toutes"

ASSESSMENT_NEEDS_CONSENT = (
    "Pour te faire passer le test et inviter des personnes qui te connaissent, je dois garder "
    "tes réponses. Tu es d'accord ?"
)
CHALLENGE_NO_SKILLS = (
    "Pour tester une compétence, il faut d'abord la repérer 🔎 Raconte-moi une expérience "
    "et on verra ensemble ce qu'elle montre !"
)
SCALE_NOT_UNDERSTOOD = "Choisis une réponse avec les boutons 🙂 (ou écris jamais, parfois, souvent ou toujours)"
SKILL_NOT_OFFERED = "Choisis une des compétences de ton profil avec les boutons 🙂"
EXAMPLE_THANKS = "Merci, c'est noté ✍️"
OLD_BUTTON = "Ce bouton n'est plus valable 🙂 On fait quoi ?"
STRAY_BUTTONS = [
    {"title": "Raconter une expérience", "payload": "/want_to_tell"},
    {"title": "Tester une compétence", "payload": "/start_assessment"},
    {"title": "Voir mes badges", "payload": "/show_my_badges"},
]
ASSESSMENT_PAUSED = "OK, on fait une pause 👍 Je garde tes réponses : tu reprendras à la même question."


def skill_buttons(skills: Sequence[Skill], notes: Optional[Dict[str, str]] = None) -> List[Dict[str, str]]:
    notes = notes or {}
    return [
        {"title": f"{s.title}{' ' + notes[s.id] if s.id in notes else ''}", "payload": choose("skill", s.id)}
        for s in skills
    ]


def ask_assessment_skill(count: int) -> str:
    if count == 1:
        return "On teste cette compétence ? Quelques questions, 2 minutes ⏱️"
    return "Quelle compétence tu veux tester ? Quelques questions, 2 minutes ⏱️"


def assessment_start(skill: Skill, answered: int, total: int) -> str:
    if answered:
        return f"On reprend {skill.title} 👍 Il te reste {total - answered} question{'s' if total - answered > 1 else ''}."
    return (
        f"C'est parti pour {skill.title} !  \n"
        "Pour chaque phrase, dis-moi si c'est vrai pour toi. Il n'y a pas de mauvaise réponse 🙂"
    )


def assessment_question(item_text: str, number: int, total: int) -> str:
    return f"Question {number}/{total}  \n« {item_text} »"


def ask_example() -> str:
    return "Top 👍 Tu as un exemple concret ? Une phrase suffit."


def _items(skill: Skill, ids: Sequence[str]) -> List[str]:
    texts = {item.id: item.self_text for item in skill.items}
    return [f"« {texts[i]} »" for i in ids if i in texts]


def assessment_summary(skill: Skill, strong: Sequence[str], weak: Sequence[str]) -> str:
    lines = [f"Bravo, tu as fini le test {skill.title} 🎉"]
    good = _items(skill, strong)
    if good:
        lines.append("Tes points forts 💪 " + " ".join(good))
    else:
        lines.append("Tu as été honnête, c'est déjà une vraie force 💪")
    todo = _items(skill, weak)
    if todo:
        lines.append("Une chose à travailler : " + todo[0])
    return "  \n".join(lines)


def disagreement(gap: int) -> str:
    if gap > 0:
        return ("Tu te donnes de meilleures réponses que tes référents. Ce n'est pas grave : "
                "parles-en avec eux, qu'est-ce qu'ils ont vu ? 💬")
    return ("Tes référents te donnent de meilleures réponses que toi 😉 "
            "Parles-en avec eux : ils ont sûrement des exemples à te donner.")


def invite_suggestion(skill: Skill) -> str:
    return (
        f"Pour obtenir le badge {skill.label}, il faut l'avis d'au moins une personne qui t'a vu faire "
        "(coach, tuteur de stage, prof, employeur…). Tu veux l'inviter ?"
    )


def invite_buttons(skill_id: Optional[str] = None) -> List[Dict[str, str]]:
    payload = '/invite_referent{"skill":"%s"}' % skill_id if skill_id else "/invite_referent"
    return [{"title": "Inviter quelqu'un", "payload": payload},
            {"title": "Plus tard", "payload": "/skip"}]


def ask_referent_name() -> str:
    return "Qui veux-tu inviter ? Donne juste son prénom 🙂"


def ask_referent_relation(name: str) -> str:
    return f"{name}, c'est qui pour toi ?"


def ask_referent_skills(name: str) -> str:
    return f"Sur quelle compétence {name} peut donner son avis ?"


def ask_own_first_name(name: str) -> str:
    return f"Quel prénom je montre à {name} ? C'est pour savoir qui l'invite 🙂"


def ask_referent_email(name: str) -> str:
    return f"Je peux aussi envoyer le lien à {name} par email ✉️ Son adresse ? (Je ne la garde pas.)"


EMAIL_NOT_UNDERSTOOD = "Ça ne ressemble pas à une adresse email 🤔 Réessaie, ou appuie sur « Passer »."


def email_sent(name: str) -> str:
    return f"Email envoyé à {name} ✉️"


def email_failed() -> str:
    return "Je n'ai pas réussi à envoyer l'email 😕 Envoie-lui le lien toi-même, il marche pareil."


def referent_name_not_understood() -> str:
    return "Juste son prénom, par exemple « Karim » 🙂"


def relation_not_understood() -> str:
    return "Choisis avec les boutons 🙂"


def invitation_link(name: str, relation: str, url: str, days: int) -> List[str]:
    who = RELATION_LABELS.get(relation, "cette personne")
    return [
        f"C'est prêt ✅ Envoie ce lien à {name} ({who}) par SMS, WhatsApp ou mail.  \n"
        f"Il marche une seule fois, pendant {days} jours, sans créer de compte :",
        url,
        f"Je te préviens ici dès que {name} a répondu 🔔 Tu peux annuler le lien quand tu veux : "
        "écris « annuler une invitation ».",
    ]


def invitations_list(lines: Sequence[str]) -> str:
    if not lines:
        return "Tu n'as invité personne pour l'instant."
    return "Tes invitations 📨  \n" + "  \n".join(lines)


def invitation_line(name: str, relation: str, state: str) -> str:
    states = {"open": "en attente", "used": "a répondu ✅", "expired": "lien expiré",
              "revoked": "lien annulé"}
    return f"{name} ({RELATION_LABELS.get(relation, 'autre')}) : {states.get(state, state)}"


def invitation_revoked(name: str) -> str:
    return f"C'est fait : le lien de {name} ne marche plus 🔒"


def nothing_to_revoke() -> str:
    return "Tu n'as aucun lien en attente à annuler 🙂"


def which_to_revoke() -> str:
    return "Quel lien veux-tu annuler ?"


def referent_answered(name: str, relation: str) -> str:
    return f"{name}, {RELATION_LABELS.get(relation, 'quelqu’un qui te connaît')}, a répondu ! 🎉"


def referent_comment(name: str, comment: str) -> str:
    return f"{name} t'a laissé un mot 💬 « {comment} »"


def level_reached(skill: Skill, level: str) -> str:
    return f"{skill.title} : niveau {LEVEL_NAMES[level]} 🏅"


def level_missing(skill: Skill, self_done: bool, referents: int, min_referents: int) -> str:
    if not self_done:
        return f"Pour le badge {skill.label}, il te reste à finir ton propre test : écris « tester {skill.label.lower()} »."
    if referents < min_referents:
        return (f"Pour le badge {skill.label}, il faut l'avis d'au moins {min_referents} "
                f"personne{'s' if min_referents > 1 else ''} qui t'a vu faire.")
    return (f"{skill.title} : pour l'instant, niveau « en progression ». Continue, "
            "chaque expérience compte 💪")


def badge_ready(badge_name: str) -> str:
    return f"Ton badge « {badge_name} » est prêt 🏅 Tout le monde peut vérifier qu'il est vrai."


def badge_links(page_url: str, linkedin: str) -> str:
    return f"Le voir et le partager : {page_url}  \nL'ajouter à ton profil LinkedIn : {linkedin}"


def no_badges() -> str:
    return ("Tu n'as pas encore de badge. Pour en avoir un : repère une compétence, "
            "passe le test, puis invite quelqu'un qui t'a vu faire 💪")


def badge_line(title: str, level: str, revoked: bool) -> str:
    return f"{title} — {LEVEL_NAMES.get(level, level)}{' (annulé)' if revoked else ''}"
