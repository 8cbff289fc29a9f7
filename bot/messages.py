"""French messages built from data (skills, profile...). Static ones live in domain.yml.

House style: short, warm, concrete, simple French, "tu", one idea per message.
"""
from __future__ import annotations

from datetime import date
from typing import Dict, List, Optional, Sequence, Tuple

from bot.referentiel import Referentiel, Skill
from bot.skills.proposal import Proposal
from bot.storage import SkillSummary

NOTICE_VERSION = "2026-11-v1"

MENU_BUTTONS = [
    {"title": "Raconter une expérience", "payload": "/want_to_tell"},
    {"title": "Voir mes compétences", "payload": "/show_my_skills"},
]
PROFILE_BUTTONS = [
    {"title": "Raconter une expérience", "payload": "/want_to_tell"},
    {"title": "Tester une compétence", "payload": "/start_assessment"},
    {"title": "Progresser", "payload": "/find_resources"},
    {"title": "Mes badges", "payload": "/show_my_badges"},
]
CONFIRM_BUTTONS = [
    {"title": "Oui, c'est moi", "payload": "/affirm"},
    {"title": "Pas vraiment", "payload": "/deny"},
]

INTENT_LABELS: Dict[str, str] = {
    "greet": "dire bonjour",
    "goodbye": "dire au revoir",
    "affirm": "oui",
    "deny": "non",
    "give_consent": "que je garde tes données",
    "allow_training": "que tes récits m'aident à apprendre",
    "refuse_training": "que tes récits ne servent pas à m'entraîner",
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
    "resource_feedback": "me dire ce que tu as fait d'une ressource",
    "join_group": "rejoindre un groupe avec un code",
    "stop_follow_ups": "arrêter les relances",
    # safety layer
    "ask_human": "parler à une vraie personne",
    "crisis": "trouver de l'aide tout de suite",
    "other_language": "parler dans une autre langue",
    "correct_skills": "corriger les compétences proposées",
    "resume": "reprendre ce qu'on avait commencé",
}


def consent_answer(given: bool) -> str:
    if given:
        return "Merci 🙏 Je garde juste ce qu'il faut pour ton profil."
    return "Pas de souci 👍 Je ne garde rien de plus que notre conversation. On peut quand même discuter !"


# The privacy question left unanswered three times in a session: no answer is a « no »
# (nothing kept), said plainly, with the words to change one's mind.
CONSENT_MOVED_ON = ("On avance 🙂 Sans réponse de ta part, je ne garde rien de ce que tu racontes. "
                    "Si tu veux un profil plus tard, écris « garde mes données ».")
CONSENT_KEPT = "Tu m'avais déjà dit oui pour garder ton profil 🙂 On continue. (Pour tout effacer : « supprime mes données ».)"
CONSENT_GIVEN_LATER = ("C'est noté 🔒 À partir de maintenant, je garde ton prénom, tes expériences et tes "
                       "compétences pour ton profil. Tu peux tout effacer quand tu veux : écris « supprime mes données ».")
CONSENT_NOT_CLEAR = ("Je ne garde rien sans un oui clair de ta part 🙂 Pour que je garde ton profil, écris "
                     "« garde mes données ». Pour effacer ce que je garde : « supprime mes données ».")
# Asked once, after a story's skills are confirmed: may the story teach the detector?
# (bot.storage.training, `make review`: a trainer reads each one before it is used)
TRAINING_QUESTION = ("Une question, une seule fois 🙂 Ton récit, sans ton prénom, peut m'aider à mieux repérer "
                     "les compétences d'autres jeunes. Quelqu'un de l'équipe le relit avant. D'accord ?")
TRAINING_BUTTONS = [
    {"title": "Oui, ça peut aider", "payload": "/allow_training"},
    {"title": "Non merci", "payload": "/refuse_training"},
]
TRAINING_YES = ("Merci 🙏 Tes récits pourront aider d'autres jeunes, sans ton prénom. Une fois relus, ils peuvent "
                "rejoindre les exemples publics d'Atouts. Tu changes d'avis ? Écris « n'utilise plus mes récits ».")
TRAINING_NO = "Pas de souci 👍 Tes récits restent juste pour ton profil."
TRAINING_NOTHING_KEPT = ("Je ne garde pas tes récits (tu as choisi de ne rien garder), donc ils ne servent à rien "
                         "d'autre 🙂 Pour avoir un profil : « garde mes données ».")
CONSENT_ALREADY = "C'est déjà le cas 🙂 Je garde ce que tu racontes pour ton profil. Pour tout effacer : « supprime mes données »."


def after_name(first_name: Optional[str]) -> str:
    if first_name:
        return f"Trop bien, {first_name} 🙂"
    return "Pas de souci 🙂"


def proposals_intro(count: int, first_name: Optional[str]) -> str:
    thanks = f"Merci {first_name} 🙏" if first_name else "Merci 🙏"
    if count == 1:
        return f"{thanks} Dans ce que tu racontes, je vois une compétence. Dis-moi si elle te ressemble."
    return f"{thanks} Dans ce que tu racontes, je vois {count} compétences. Dis-moi si elles te ressemblent."


PICK_MORE = "toutes"  # /choose{"skill":"toutes"}: all 14, in plain words


def pick_intro() -> str:
    return (
        "Merci 🙏 Je ne vois toujours pas de compétence précise, mais ça ne veut pas dire qu'il n'y en a pas ! "
        "Dans ce que tu racontes, tu as peut-être su… Choisis ce qui te ressemble 👇"
    )


def pick_all_intro() -> str:
    return "Les 14 compétences, en mots simples 👇 Choisis celle que tu as montrée."


def pick_buttons(skills: Sequence[Skill], browse: bool = True) -> List[Dict[str, str]]:
    """Plain words (« Garder mon calme »), then « all 14 » and « another story »."""
    buttons = [{"title": s.plain or s.label, "payload": choose("skill", s.id)} for s in skills]
    if browse:
        buttons.append({"title": "Voir les 14", "payload": choose("skill", PICK_MORE)})
    buttons.append({"title": "Raconter autre chose", "payload": "/want_to_tell"})
    return buttons


def pick_nothing_to_pick() -> str:
    return "Ce bouton n'est plus valable 🙂 Raconte-moi une expérience et on regarde ensemble."


def added_question(skill: Skill) -> str:
    return f"{skill.title} : {skill.definition}  \nTu l'as dit, je l'ajoute ✅ C'est bien ça ?"


ADDED_BUTTONS = [
    {"title": "Oui, c'est ça", "payload": "/affirm"},
    {"title": "Non, pas ça", "payload": "/deny"},
]


def removed(skills: Sequence[Skill]) -> str:
    return f"OK, j'enlève {', '.join(s.title for s in skills)} 👍"


def already_there(skill: Skill) -> str:
    return f"{skill.title}, c'est déjà noté ✅"


def not_proposed(skill: Skill) -> str:
    return f"{skill.title} n'était pas dans la liste 🙂"


CORRECTION_HINT = (
    "Tu peux me corriger : « y a aussi la rigueur », « plutôt l'autonomie » ou « pas la communication » 🙂"
)
NOTHING_TO_CORRECT = "Raconte-moi d'abord une expérience, et on regarde ensemble les compétences qu'elle montre 🙂"


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


def profile(summaries: Sequence[SkillSummary], referentiel: Referentiel,
            tests: Optional[Dict[str, str]] = None, badges: Optional[Dict[str, str]] = None,
            pending: int = 0) -> List[str]:
    """The profile as a few short messages: skills with their experiences, test and
    badge level; then what is in progress."""
    if not summaries:
        return ["Ton profil est encore vide. Raconte-moi une expérience pour commencer !"]
    tests, badges = tests or {}, badges or {}
    texts = ["Tes compétences repérées 💪"]
    for s in summaries:
        skill = referentiel.get(s.skill_id)
        if skill is None:
            continue
        line = profile_line(skill, s.count, badges.get(s.skill_id), s.skill_id in badges, tests.get(s.skill_id))
        if s.evidences:  # the experience that shows it, in the person's own words
            line += f"  \n« {_shorten(s.evidences[-1], 70)} »"
        if len(texts[-1]) + len(line) > 380:  # phone-sized messages
            texts.append(line)
        else:
            texts[-1] += "  \n" + line
    if pending:
        texts.append(f"En cours ⏳ {pending} invitation{'s' if pending > 1 else ''} en attente de réponse.")
    return texts


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


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


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")


def french_date(day: date) -> str:
    return f"{day.day}{'er' if day.day == 1 else ''} {MONTHS[day.month - 1]} {day.year}"


def retention_notice(first_name: Optional[str], erase_on: date, months: int) -> str:
    """Told before the retention job erases someone inactive (bot.privacy.retention)."""
    hello = f"Coucou {first_name} 👋" if first_name else "Coucou 👋"
    return (f"{hello} Ça fait {months} mois qu'on ne s'est pas parlé. Sans nouvelles de toi, "
            f"j'efface ton espace Atouts (expériences, compétences, badges) le {french_date(erase_on)}. "
            "Pour le garder, envoie-moi juste un message avant. Tu peux aussi récupérer tes "
            "données : écris « mes données ».")


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
    # the one targeted question, asked last, when no skill is clear in the story
    "experience_probe": (
        "Je n'arrive pas encore à y voir une compétence précise 🤔  \n"
        "Dis-moi juste : qu'est-ce qui a été le plus dur pour toi ? Et toi, qu'est-ce que tu as fait ?",
        [],
    ),
    "delete_confirmed": (
        "Tu veux vraiment tout effacer ? Ton prénom, tes expériences, tes compétences et notre conversation. "
        "On ne pourra pas revenir en arrière.",
        [
            {"title": "Oui, tout effacer", "payload": "/affirm"},
            {"title": "Non, garder", "payload": "/deny"},
        ],
    ),
}

# A new story asks its questions in other words than the last one did (a person telling
# three stories in a sitting hears each question differently).
OTHER_WORDINGS: Dict[str, tuple] = {
    "experience_action": ("Toi, tu t'occupais de quoi exactement ?", "Et toi, qu'est-ce que tu as fait, concrètement ?"),
    "experience_difficulty": ("Qu'est-ce qui a été le plus dur ? Tu as fait comment ?",
                              "Un moment compliqué là-dedans ? Raconte comment tu t'en es sorti·e."),
    "experience_result": ("Et à la fin, ça a donné quoi ?", "Et alors, comment ça s'est terminé ?"),
}


def wordings(slot: str) -> tuple:
    """The ways of asking ``slot``: the usual one first."""
    return (ASK[slot][0],) + OTHER_WORDINGS.get(slot, ())


STORY_TOO_SHORT = "Dis-m'en un peu plus 🙂 Où c'était, avec qui, ce que tu faisais…"
USE_BUTTONS = "Dis-moi juste si ça te ressemble 🙂"


def skill_left_aside(title: str) -> str:
    """No answer to a skill card three times: it is put aside (not saved, not refused)."""
    return f"Je laisse « {title} » de côté pour l'instant 👍 Elle reviendra si tu racontes une autre expérience."
REPHRASE = "Je n'ai pas bien compris 🤔 Tu peux le dire autrement ?"
# the same question again in a session: other words (fuzzer seed 4242: three times in one walk)
REPHRASE_AGAIN = (
    "Pas sûr d'avoir compris 🤔 Tu peux me l'écrire avec d'autres mots ?",
    "Je n'ai pas saisi, désolé 🙏 Dis-le autrement, ou choisis ci-dessous.",
)
REPHRASES = (REPHRASE, *REPHRASE_AGAIN)


def rephrase(times_before: int) -> str:
    """« Say it another way », the ``times_before + 1``-th time in a session."""
    return REPHRASES[max(times_before, 0) % len(REPHRASES)]
DEFAULT_FALLBACK = "Désolé, je ne comprends toujours pas 😅 Voilà ce que je sais faire :"
FALLBACK_BUTTONS = MENU_BUTTONS + [
    {"title": "C'est quoi une compétence ?", "payload": "/ask_what_are_soft_skills"},
]
# Lost again in the same session: never the same words a third time; from the second
# time, a way to reach a person too (the person may need something the bot cannot do).
FALLBACK_AGAIN = (
    "Je ne comprends toujours pas, désolé 🙏 Le plus simple : choisis ici 👇",
    "On n'arrive pas à se comprendre, c'est ma faute 😕 Tu peux choisir ci-dessous, "
    "ou demander à parler à quelqu'un.",
)
HUMAN_BUTTON = {"title": "Parler à quelqu'un", "payload": "/ask_human"}


def fallback(times_before: int) -> Tuple[str, List[Dict[str, str]]]:
    """The « not understood » answer, the ``times_before + 1``-th time in a session."""
    if times_before <= 0:
        return DEFAULT_FALLBACK, FALLBACK_BUTTONS
    return FALLBACK_AGAIN[(times_before - 1) % len(FALLBACK_AGAIN)], FALLBACK_BUTTONS + [HUMAN_BUTTON]
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
OLD_BUTTON_AGAIN = "Ce bouton vient d'un ancien message, il ne marche plus 🙂 Choisis plutôt ici :"
STRAY_BUTTONS = [
    {"title": "Raconter une expérience", "payload": "/want_to_tell"},
    {"title": "Tester une compétence", "payload": "/start_assessment"},
    {"title": "Voir mes badges", "payload": "/show_my_badges"},
]


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


def email_limit(name: str) -> str:
    return (f"Tu as déjà envoyé plein d'invitations aujourd'hui 🙂 Je n'envoie plus d'email avant "
            f"demain : partage ce lien toi-même avec {name} (SMS, WhatsApp…), il marche pareil.")


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
              "revoked": "lien annulé", "to_confirm": "a répondu, doit encore confirmer son adresse ✉️"}
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
    """Someone else's words: invisible and bidi characters removed (bot.text.clean_text);
    sent with ``atouts_plain`` so that the web chat shows them as plain text."""
    from bot.text import clean_text

    return f"{clean_text(name)} t'a laissé un mot 💬 « {clean_text(comment)} »"


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


# --- « Pendant ton absence… »: notices kept in the outbox (bot/storage/outbox.py) --------
MISSED_HEADER = "Pendant ton absence… 📬"
NOTICE_COMMENT_MAX = 280  # a referent's comment in a missed notice: a few lines on a phone


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def referent_notice(name: str, relation: str, skills: Sequence[Tuple[str, Optional[str], str]]) -> str:
    """A referent's answer in a few lines: who, then per skill their comment and the next step."""
    lines = [f"{name}, {RELATION_LABELS.get(relation, 'quelqu’un qui te connaît')}, a répondu 🎉"]
    for _label, comment, step in skills:
        if comment:
            lines.append(f"💬 « {_short(comment, NOTICE_COMMENT_MAX)} »")
        lines.append(step)
    return "  \n".join(lines)


def badge_notice(badge_name: str, page_url: str) -> str:
    return f"Ton badge « {badge_name} » est prêt 🏅  \nLe voir et le partager : {page_url}"


def follow_up_notice(about: str) -> str:
    return (f"Je voulais savoir : tu as pu essayer {about} ?  \n"
            "Si tu as vécu un truc, raconte-le-moi 💪")


def missed_notices(notices: Sequence[str]) -> str:
    """What came while the person was away, oldest first, before the answer to their message."""
    return "\n\n".join([MISSED_HEADER, *notices])


def no_badges() -> str:
    return ("Tu n'as pas encore de badge. Pour en avoir un : repère une compétence, "
            "passe le test, puis invite quelqu'un qui t'a vu faire 💪")


def badge_line(title: str, level: str, revoked: bool) -> str:
    return f"{title} — {LEVEL_NAMES.get(level, level)}{' (annulé)' if revoked else ''}"


# --- Progresser: resources, missions, follow-ups, groups ---------------------------------

KIND_LABELS = {"video": "Vidéo", "article": "Article", "mooc": "MOOC", "exercice": "Exercice", "podcast": "Podcast"}
KIND_EMOJI = {"video": "🎬", "article": "📄", "mooc": "🎓", "exercice": "✏️", "podcast": "🎧"}
ANY_KIND = "any"
KIND_BUTTONS = [{"title": f"{KIND_EMOJI[k]} {label}", "payload": choose("kind", k)} for k, label in KIND_LABELS.items()] + [
    {"title": "Peu importe", "payload": choose("kind", ANY_KIND)}]
TIME_CHOICES = [("10 min", 10), ("30 min", 30), ("1 h ou plus", 90)]
TIME_BUTTONS = [{"title": title, "payload": choose("minutes", str(n))} for title, n in TIME_CHOICES]
YES_NO_BUTTONS = [{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}]

ASK_PROGRESS_SKILL = "Quelle compétence tu veux faire grandir ? 🌱"
PROGRESS_SKILL_NOT_UNDERSTOOD = "Choisis avec les boutons, ou écris le nom d'une compétence (par exemple « la rigueur ») 🙂"


def progress_skill_chosen(label: str) -> str:
    """No skill chosen after three questions: the first one offered, said plainly."""
    return f"On commence par « {label} » 🙂 (Tu pourras en choisir une autre après.)"
ASK_KINDS = "Pour apprendre, tu préfères quoi ?"
KINDS_NOT_UNDERSTOOD = "Choisis un format avec les boutons 🙂"
ASK_TIME = "Tu as combien de temps, en général ?"
TIME_NOT_UNDERSTOOD = "Choisis avec les boutons, ou écris par exemple « 20 min » 🙂"
ASK_PLACE = "Tu habites où ? Ton code postal ou ta ville suffit (je garde juste le département)."
PLACE_NOT_UNDERSTOOD = "Donne-moi ton code postal (par exemple 69003) ou le nom de ta ville 🙂"
PLACE_MOVED_ON = "Pas de souci, on fait sans 🙂 Je te montre des missions à distance, faisables de chez toi."
ASK_MINOR = "Tu as moins de 18 ans ? (Certaines missions sont réservées aux majeurs.)"
MINOR_NOT_UNDERSTOOD = "Dis-moi juste oui ou non 🙂"
NO_MORE_RESOURCES = ("J'ai fait le tour de mes idées pour cette compétence 😅 Raconte-moi ce que tu as essayé : "
                     "ça peut montrer de nouvelles compétences !")
NO_MISSIONS = "Je n'ai pas trouvé de mission pour l'instant 😕 Réessaie dans quelques jours."
FEEDBACK_USE_BUTTONS = "Dis-le-moi avec les boutons sous la ressource 🙂"
FOLLOW_UP_NO = "OK, pas de relance 👍"
FOLLOW_UPS_STOPPED = "C'est noté, plus de relances 👍 Tu peux toujours revenir me parler."
GROUP_NEEDS_CONSENT = ("Pour rejoindre un groupe, je dois garder ton profil (le groupe ne verra que des "
                       "chiffres anonymes). Ensuite, renvoie-moi ton code 🙂")
GROUP_ASK_CODE = "Écris « code » suivi de ton code, par exemple « code KX7P2M » 🙂"
GROUP_UNKNOWN = "Je ne connais pas ce code 🤔 Vérifie-le avec la personne qui te l'a donné."
PROGRESS_BUTTONS = [
    {"title": "Des idées pour progresser", "payload": "/find_resources"},
    {"title": "Une mission de bénévolat", "payload": "/find_missions"},
]


def _duration(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest:02d}" if rest else "")


def resources_intro(skill: Skill) -> str:
    return f"Voilà des idées pour progresser : {skill.title} 👇"


def resource_card(resource, reason: str) -> str:  # noqa: ANN001 - bot.progress.catalogue.Resource
    head = (f"{KIND_EMOJI.get(resource.kind, '•')} « {resource.title} » · {_duration(resource.duration_minutes)}"
            f" · {resource.provider}")
    return "  \n".join([head, resource.pitch, f"👉 {reason}", resource.url])


def resource_buttons(resource_id: str) -> List[Dict[str, str]]:
    payload = '/resource_feedback{"resource":"%s","feedback":"%s"}'
    return [{"title": "✅ Fait", "payload": payload % (resource_id, "done")},
            {"title": "🙅 Pas pour moi", "payload": payload % (resource_id, "not_for_me")}]


def resource_done(title: str) -> str:
    return (f"Bravo pour « {title} » 🎉 Raconte-moi ce que tu en as tiré : "
            "ça peut montrer une compétence de plus !")


def resource_not_for_me() -> str:
    return "Noté 👍 Je ne te la proposerai plus."


def more_ideas_buttons(skill_id: str) -> List[Dict[str, str]]:
    return [{"title": "Raconter une expérience", "payload": "/want_to_tell"},
            {"title": "D'autres idées", "payload": '/find_resources{"skill":"%s"}' % skill_id}]


def missions_intro(skill: Skill) -> str:
    return f"Des missions pour faire grandir : {skill.title} 👇"


def mission_card(mission) -> str:  # noqa: ANN001 - bot.progress.engagement.Mission
    where = f", {mission.city}" if getattr(mission, "city", None) else (" · à distance" if mission.remote else "")
    who = f" — {mission.organization}" if getattr(mission, "organization", None) else ""
    lines = [f"🤝 {mission.title}{who}{where}"]
    if getattr(mission, "pitch", None):
        lines.append(mission.pitch)
    lines.append(f"Postuler : {mission.url}")
    return "  \n".join(lines)


def offer_follow_up(days: int) -> str:
    return (f"Je te relance dans {days} jours pour savoir comment ça s'est passé ? "
            "(Tu pourras dire « stop les rappels » quand tu veux.)")


def follow_up_scheduled(days: int) -> str:
    return f"Je te relance dans {days} jour{'s' if days > 1 else ''} pour savoir comment ça s'est passé 🔔"


def follow_up_question(about: str) -> str:
    return (f"Coucou 👋 Tu as pu essayer {about} ?  \n"
            "Si tu as vécu un truc, raconte-le-moi : ça peut montrer une nouvelle compétence 💪")


FOLLOW_UP_BUTTONS = [
    {"title": "Oui, je raconte", "payload": "/want_to_tell"},
    {"title": "Pas encore", "payload": "/skip"},
    {"title": "Stop les rappels", "payload": "/stop_follow_ups"},
]


def group_joined(name: str) -> str:
    return (f"Bienvenue dans le groupe « {name} » 🙌 Ils verront seulement des chiffres anonymes, "
            "jamais ce que tu racontes.")


def profile_line(skill: Skill, count: int, level: Optional[str], badge: bool, test: Optional[str]) -> str:
    times = "1 expérience" if count == 1 else f"{count} expériences"
    extra = ""
    if badge and level:
        extra = f" · {LEVEL_NAMES.get(level, level)} 🏅"
    elif test == "done":
        extra = " · test fait"
    elif test == "started":
        extra = " · test à finir"
    return f"{skill.title} ({times}){extra}"


# --- interruptions: pause, leave, resume (data/dialogue/interruptions.yml) -------------
RESUME_BUTTON = {"title": "▶️ Reprendre", "payload": "/resume"}
NOTHING_TO_RESUME = "Il n'y a rien en cours à reprendre 🙂 On fait quoi ?"
RESUME_MENU_BUTTONS = [
    {"title": "Raconter une expérience", "payload": "/want_to_tell"},
    {"title": "Voir mes compétences", "payload": "/show_my_skills"},
    {"title": "Tester une compétence", "payload": "/start_assessment"},
    {"title": "Progresser", "payload": "/find_resources"},
]
GO_ON = "On continue 👇"
STOPPED = "OK, on arrête là 👍 On fait quoi ?"
CONSENT_NOT_UNDERSTOOD = "Dis-moi juste oui ou non 🙂 (Tu peux dire non : on pourra quand même discuter.)"
NAME_SKIPPED = "Pas grave, on fait sans prénom 🙂"
STALE_BUTTON_IN_FORM = "Ce bouton n'est plus valable 🙂 On continue :"
NOT_UNDERSTOOD_IN_FORM = "Je n'ai pas bien compris 🤔"


def paused(label: str, assessment: bool = False) -> str:
    kept = " Je garde tes réponses." if assessment else ""
    return (f"OK, on met {label} de côté 👍{kept}  \n"
            "Pour continuer, écris « reprendre » ou appuie sur le bouton.")


def left_aside(label: str) -> str:
    return f"Je mets {label} de côté 👍 (Écris « reprendre » pour y revenir.)"


def resuming(label: str) -> str:
    return f"On reprend {label} 👇"
