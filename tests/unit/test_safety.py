"""bot/safety: normalisation, crisis cues and guards, language guess, help lines,
messages; the NLU component and the policy through their Rasa interfaces; the
actions with CollectingDispatcher. Dev examples written for these tests (the
held-out sets live in tests/heldout/ and are only used by `make evaluate-safety`)."""
from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import safety as safety_actions
from bot.nlu.safety import SafetyDetector
from bot.nlu.safety_policy import SAFETY_ACTIONS, next_safety_action
from bot.safety import detect_crisis, guess_language, load_detector, load_helplines, normalise
from bot.safety.helplines import default_helplines
from bot.safety.messages import crisis_messages, human_messages, other_language_messages
from channels.common import plain_text
from channels.messenger import call_template
from tests.unit.test_actions import assert_house_style

CRISIS = {
    "suicide": [
        "je vais me suicider ce soir", "jveux mourir", "g envie de crever", "j'ai pensé à me foutre en l'air",
        "je veux en finir", "jpense a mettre fin a mes jours", "j'ai plus envie de vivre",
        "le monde serait mieux sans moi", "jai peur de faire une connerie ce soir",
        "j'ai envie de tout arrêter, de disparaître", "je vais avaler toutes mes pilules",
    ],
    "self_harm": ["je me scarifie depuis 2 mois", "je me fais du mal quand ça va pas", "jme coupe les bras le soir"],
    "harassment": [
        "je me fais harceler au lycée", "ils me harcèlent sur snap", "des gens se moquent de moi tous les jours au lycée",
        "ils ont diffusé mes photos intimes", "je suis victime de cyberharcèlement",
    ],
    "violence_home": ["mon père me frappe", "ma daronne me tape quand elle a bu", "j'ai peur de rentrer chez moi ce soir"],
    "violence_couple": ["mon copain me frappe", "mon mec m'a giflé hier soir", "mon ex me menace"],
    "sexual_violence": ["il m'a violée", "j'ai subi une agression sexuelle", "mon oncle m'a touchée sans que je veuille"],
    "child_danger": ["mon petit frère se fait frapper par mon beau-père", "j'ai 15 ans et mon père me frappe"],
    "no_shelter": ["je suis à la rue depuis 2 semaines", "je dors dans ma voiture", "mes parents m'ont mis dehors",
                   "je sais pas où dormir ce soir"],
    "hunger": ["j'ai rien mangé depuis 3 jours", "j'ai pas de quoi manger", "mon frigo est vide et plus d'argent"],
    "distress": ["j'en peux plus", "chui a bout", "je pleure tous les soirs", "personne m'aime", "je me sens tellement seul",
                 "au secours"],
}
ORDINARY = [
    "c'était l'enfer ce déménagement mais on a tout porté en une journée",
    "ce client m'a rendu fou mais je suis resté poli",
    "je suis KO après mes exams mais je les ai eus",
    "mort de rire quand le chef a fait tomber le gâteau",
    "j'ai tué le boss à fortnite avec mes potes en équipe",
    "au mcdo je me faisais insulter par des clients mais je restais calme",
    "j'avais envie de tout lâcher au début du bts mais j'ai continué",
    "je me suis tué à la tâche pendant le rush de noël",
    "on s'est fait battre 3-0 en finale mais j'ai motivé l'équipe",
    "ça me tue ce prof qui parle trop vite, alors je prends des notes",
    "j'ai fait une connerie au boulot et je l'ai réparée direct",
    "je meurs de faim après le service du midi",
    "j'ai cru mourir de stress à l'oral mais j'ai assuré",
    "je suis à la rue en maths donc je me fais aider par ma soeur",
    "partir sans plan c'était du suicide, alors j'ai tout organisé",
    "je me suis coupé le doigt en cuisine et j'ai continué le service",
    "mon frère tape dans le ballon avec moi tous les soirs",
    "je craque pour les pâtisseries alors j'ai fait un CAP",
    "j'en pouvais plus de ce job alors j'ai cherché autre chose",
    "j'ai aidé à servir aux restos du coeur tout l'hiver",
    "je veux arrêter mes études pour faire une formation",
]


def test_normalise_reads_sms_slang_and_accents() -> None:
    assert normalise("Jveux plu") == "je veux plus"
    assert normalise("chui KO") == "je suis ko"
    assert normalise("g envie d'y aller") == "j ai envie d y aller"
    assert normalise("Je n'en peux plusss !!!") == "je en peux plus"
    assert normalise("ma daronne") == "ma mere"
    assert normalise("il ma frappé") == "il m a frappe"
    assert normalise("jpppp") == "j en peux plus"


@pytest.mark.parametrize("category,text", [(c, t) for c, ts in CRISIS.items() for t in ts])
def test_crisis_messages_are_recognised_with_their_category(category: str, text: str) -> None:
    found = detect_crisis(text)
    assert found, f"no crisis seen in « {text} »"
    assert category in found, f"« {text} » -> {found}, expected {category}"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_stories_with_idioms_stay_stories(text: str) -> None:
    assert detect_crisis(text) == [], load_detector().matches(text)


def test_button_payloads_are_never_crises() -> None:
    assert detect_crisis('/choose{"skill":"rigueur"}') == []


def test_a_broken_cue_file_lists_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "cues.yml"
    bad.write_text("guards: ['(']\ncategories:\n  suicide: ['ok']\n  bogus: ['x']\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_detector(bad)
    message = str(err.value)
    assert "guards[0]" in message and "bogus" in message and "self_harm" in message


@pytest.mark.parametrize("text,language", [
    ("I worked in a restaurant and I helped the customers every day", "en"),
    ("Hi, I don't speak French, can you help me?", "en"),
    ("trabajé en un restaurante con mi familia", "es"),
    ("hola", "es"),
    ("ana khdemt f l7anout m3a baba", "ar-latn"),
    ("wach kayn chi khedma", "ar-latn"),
    ("stage en marketing c'était cool", "fr"),
    ("wesh", "fr"), ("ok", "fr"), ("hello", "fr"), ("foot", "fr"),
    ("wesh frero j'ai bossé au mcdo tout l'été", "fr"),
    ("j'ai fait un stage à London, it was amazing", "fr"),
    ("rdv à 9h30 le 3eme jour", "fr"),
])
def test_language_guess(text: str, language: str) -> None:
    assert guess_language(text) == language


def test_helplines_file_is_complete_and_dated() -> None:
    lines = load_helplines()
    for number in ["3114", "0800235236", "3018", "119", "3919", "115", "114", "112"]:
        assert any(line.number == number for line in lines.lines.values()), number
    assert all(line.checked.year >= 2026 and line.checked_how for line in lines.lines.values())
    ids = [line.id for line in lines.for_categories(["suicide"])]
    assert ids[0] == "3114" and "fil_sante_jeunes" in ids and "112" in ids
    assert [line.id for line in lines.for_categories(["no_shelter"])][0] == "115"
    assert len(lines.for_categories(list(lines.by_category))) <= 4


def test_a_broken_helplines_file_lists_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "h.yml"
    bad.write_text("lines:\n  - id: x\n    name: X\ncategories: {suicide: [nope]}\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_helplines(bad)
    assert "champs manquants" in str(err.value) and "nope" in str(err.value)


def test_crisis_answer_is_warm_short_and_has_tappable_lines() -> None:
    helplines = default_helplines()
    for categories in [["suicide"], ["distress"], ["harassment"], ["violence_couple"], ["no_shelter"],
                       ["sexual_violence", "child_danger"], []]:
        msgs = crisis_messages(categories, helplines)
        for m in msgs:
            assert_house_style(m["text"])
        text = "\n".join(m["text"] for m in msgs)
        assert "(tel:" in text
        assert "?" not in msgs[0]["text"] and "compétence" not in text
        assert [b["payload"] for b in msgs[-1]["buttons"]] == ["/help", "/goodbye"]
    suicide = "\n".join(m["text"] for m in crisis_messages(["suicide"], helplines))
    assert "[3114](tel:3114)" in suicide and "(tel:112)" in suicide and "(tel:17)" in suicide
    assert "3018" in "\n".join(m["text"] for m in crisis_messages(["harassment"], helplines))


def test_other_language_answers_in_that_language_with_french_examples() -> None:
    for lang, word in [("en", "French"), ("es", "francés"), ("ar-latn", "fransawiya")]:
        msgs = other_language_messages(lang)
        assert word in msgs[0]["text"] and "J'ai travaillé dans un restaurant." in msgs[0]["text"]
        assert [b["payload"] for b in msgs[1]["buttons"]] == ["J'ai travaillé dans un restaurant.", "J'aide ma famille."]
    # writing again in another language: other easy sentences, never the same reply three times
    replies = [str(other_language_messages("en", n)) for n in range(3)]
    assert len(set(replies)) == 3


def test_human_answer_is_honest_and_gives_a_person() -> None:
    helplines = default_helplines()
    national = "\n".join(m["text"] for m in human_messages(None, helplines, distress_seen=False))
    assert "robot" in national and "unml.info" in national and "3114" not in national
    partner = "\n".join(m["text"] for m in human_messages(
        ("Mission locale de Lyon", "Samia", "06 12 34 56 78"), helplines, distress_seen=True))
    assert "Samia (Mission locale de Lyon)" in partner and "(tel:0612345678)" in partner and "3114" in partner


def test_connectors_show_plain_numbers_and_messenger_call_buttons() -> None:
    text = "📞 [3114](tel:3114) : x  \n📞 Fil Santé Jeunes [0 800 235 236](tel:0800235236) : y  \n💬 SMS au [114](sms:114)"
    assert plain_text(text) == "📞 3114 : x\n📞 Fil Santé Jeunes 0 800 235 236 : y\n💬 SMS au 114"
    template = call_template(text)
    assert template is not None
    buttons = template["attachment"]["payload"]["buttons"]
    assert buttons == [{"type": "phone_number", "title": "Appeler 0800235236", "payload": "+33800235236"}]
    assert "tel:" not in template["attachment"]["payload"]["text"]
    assert call_template("📞 [3114](tel:3114) : x") is None  # short numbers: plain text only


# --- NLU component ---------------------------------------------------------------------


def parse(text: str, intent: str = "tell_experience") -> Message:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9},
                            "intent_ranking": [{"name": intent, "confidence": 0.9}],
                            "entities": [{"entity": "first_name", "value": "Kevin"}],
                            "soft_skills": [{"id": "gestion_du_stress", "confidence": 0.8, "evidence": text}]})
    SafetyDetector(SafetyDetector.get_default_config()).process([message])
    return message


def test_component_turns_a_crisis_into_intent_crisis_and_clears_skills() -> None:
    message = parse("mon copain me frappe, il s'appelle Kevin")
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert message.get("intent_ranking") == [{"name": "crisis", "confidence": 1.0}]
    assert "violence_couple" in message.get("safety")["categories"]
    assert message.get("soft_skills") == [] and message.get("entities") == []
    assert "safety" in message.as_dict_nlu() or message.output_properties >= {"safety"}


def test_component_sets_other_language_and_leaves_french_alone() -> None:
    english = parse("I worked in a restaurant and I helped the customers")
    assert english.get("intent")["name"] == "other_language"
    assert english.get("safety") == {"categories": [], "language": "en"}
    french = parse("c'était l'enfer ce déménagement mais on a géré")
    assert french.get("intent")["name"] == "tell_experience" and french.get("soft_skills")
    button = parse("/want_to_tell", intent="want_to_tell")
    assert button.get("intent")["name"] == "want_to_tell" and button.get("safety") is None


# --- policy ------------------------------------------------------------------------------


def test_policy_predicts_the_safety_action_then_listens() -> None:
    for intent, action in SAFETY_ACTIONS.items():
        assert next_safety_action("action_listen", intent) == action
        assert next_safety_action(action, intent) == "action_listen"
    assert next_safety_action("action_listen", "tell_experience") is None
    assert next_safety_action("experience_form", "crisis") is None


# --- actions --------------------------------------------------------------------------------


def tracker(intent: str, safety: dict | None = None, active_loop: str | None = None,
            slots: dict | None = None, sender: str = "safety-unit") -> Tracker:
    latest = {"text": "…", "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    if safety is not None:
        latest["safety"] = safety
    return Tracker(sender, slots or {}, latest, [], False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def run(action, t: Tracker):
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, t, {})
    for m in dispatcher.messages:
        assert_house_style(m["text"])
    return dispatcher.messages, events


def test_crisis_action_pauses_the_form_and_gives_lines() -> None:
    msgs, events = run(safety_actions.ActionCrisisSupport(),
                       tracker("crisis", {"categories": ["no_shelter"]}, active_loop="experience_form"))
    assert "[115](tel:115)" in "\n".join(m["text"] for m in msgs)
    assert ActiveLoop(None) in events and SlotSet("paused_form", "experience_form") in events
    assert SlotSet("distress_seen", True) in events


def test_crisis_action_in_the_fallback_loop_and_without_categories() -> None:
    msgs, events = run(safety_actions.ActionCrisisSupport(), tracker("crisis", None, "action_two_stage_fallback"))
    assert "3114" in "\n".join(m["text"] for m in msgs)
    assert ActiveLoop(None) in events and not any(
        isinstance(e, dict) and e.get("name") == "paused_form" for e in events)
    msgs, events = run(safety_actions.ActionCrisisSupport(), tracker("crisis", {"categories": ["suicide"]}))
    assert not any(e.get("event") == "active_loop" for e in events)


def test_other_language_action_answers_in_spanish_and_pauses() -> None:
    msgs, events = run(safety_actions.ActionOtherLanguage(),
                       tracker("other_language", {"categories": [], "language": "es"}, "consent_form"))
    assert "francés" in msgs[0]["text"]
    assert SlotSet("paused_form", "consent_form") in events


def test_check_command_flags_stale_help_lines() -> None:
    import io
    from datetime import date

    from bot.safety.__main__ import main

    out = io.StringIO()
    assert main(["check"], out=out, today=date(2026, 12, 2)) == 0
    assert "3114" in out.getvalue() and "À REVÉRIFIER" not in out.getvalue()
    assert main(["check"], out=io.StringIO(), today=date(2028, 1, 1)) == 1
