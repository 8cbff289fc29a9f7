"""Learning from what people say (issue 11): training consent, candidates, `make review`.

Real databases (SQLite and PostgreSQL through ``db_url``), real files; no mocks."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import review
from bot.privacy.keyed_hash import Keyed
from bot.storage import Store

SKILLS = {"autonomie", "rigueur", "organisation", "perseverance"}


@pytest.fixture
def store(db_url: str):
    s = Store(db_url)
    s.migrate()
    yield s
    s.close()


def person(store: Store, sender: str, first_name: str, story: str, confirmed=(), rejected=(),
           training=None, details=None) -> int:
    store.record_consent(sender, True, "v2", "rest")
    store.set_first_name(sender, first_name)
    exp = store.add_experience(sender, story, details or {})
    for skill in confirmed:
        store.add_skill_claim(sender, exp, skill, 0.8, "confirmed", None)
    for skill in rejected:
        store.add_skill_claim(sender, exp, skill, 0.6, "rejected", None)
    if training is not None:
        assert store.set_training_consent(sender, training)
    return exp


def test_training_consent_is_separate_and_needs_a_profile(store: Store) -> None:
    assert store.set_training_consent("rest:nobody", True) is False  # no profile: nothing written
    store.record_consent("rest:refused", False, "v2", "rest")
    assert store.set_training_consent("rest:refused", True) is False
    assert store.training_consent("rest:refused") is None
    store.record_consent("rest:ines", True, "v2", "rest")
    assert store.training_consent("rest:ines") is None  # never asked
    assert store.set_training_consent("rest:ines", True)
    assert store.training_consent("rest:ines") is True
    exported = store.export_person("rest:ines")["person"]
    assert exported["training_consent"] is True and exported["training_consent_at"]
    assert store.set_training_consent("rest:ines", False)  # « n'utilise plus mes récits »
    assert store.training_consent("rest:ines") is False


def test_only_the_stories_of_people_who_said_yes_with_an_answer(store: Store) -> None:
    yes = person(store, "rest:a", "Inès", "je gardais ma soeur", ["organisation"], ["rigueur"], training=True,
                 details={"action": "je faisais les devoirs avec elle", "result": "elle a eu son brevet"})
    person(store, "rest:b", "Karim", "j'ai tenu au resto", ["perseverance"], training=False)
    person(store, "rest:c", "Léa", "j'ai déménagé", ["autonomie"])  # never asked
    person(store, "rest:d", "Sam", "rien confirmé", training=True)  # no answered skill
    found = store.training_candidates(lambda exp_id: f"ref-{exp_id}")
    assert [(c.ref, c.confirmed, c.rejected) for c in found] == [(f"ref-{yes}", ("organisation",), ("rigueur",))]
    assert found[0].text == "je gardais ma soeur je faisais les devoirs avec elle elle a eu son brevet"
    store.erase_person("rest:a")  # « supprime mes données »: the candidate is gone with the rest
    assert store.training_candidates(str) == []


def test_the_person_and_their_contacts_are_masked() -> None:
    text = ("moi c'est Inès, INÈS quoi, j'ai appelé le 06 12 34 56 78 et écrit à karim@club.fr, "
            "ma vidéo est sur https://example.org/v/123")
    masked = review.mask(text, "Inès")
    assert "Inès" not in masked and "INÈS" not in masked and masked.count(review.NAME_MASK) == 2
    assert "06 12" not in masked and "karim@" not in masked and "example.org" not in masked
    assert review.mask("Inèsse et Inès", "Inès") == "Inèsse et [prénom]"  # whole words only


def test_export_then_a_trainer_decides_and_nothing_comes_back(store: Store, tmp_path: Path) -> None:
    a = person(store, "rest:a", "Inès", "Inès ici: je gardais ma soeur tous les soirs", ["organisation"],
               training=True)
    person(store, "rest:b", "Karim", "j'ai tenu tout l'été en cuisine", ["perseverance"], ["rigueur"],
           training=True)
    keyed = Keyed(tmp_path / "var")
    files = {"out": tmp_path / "review" / "candidates.yml", "reviewed": tmp_path / "data" / "reviewed.yml",
             "rejected": tmp_path / "data" / "rejected.yml"}
    assert review.export(store, keyed, files["out"], files["reviewed"], files["rejected"]) == 2
    raw = files["out"].read_text(encoding="utf-8")
    assert "rest:" not in raw and "Inès" not in raw and "[prénom] ici" in raw
    items = yaml.safe_load(raw)["candidates"]
    assert items[0]["ref"] == review.reference(keyed, a) and items[0]["skills"] == ["organisation"]
    assert items[1]["turned_down"] == ["rigueur"] and all(i["decision"] == "todo" for i in items)

    # nothing applied while one decision is wrong
    items[0]["decision"], items[0]["skills"] = "accept", ["organisation", "sens_du_rythme"]
    items[1]["decision"] = "maybe"
    files["out"].write_text(yaml.safe_dump({"candidates": items}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(review.ReviewError) as err:
        review.apply(files["out"], files["reviewed"], files["rejected"], SKILLS)
    assert "sens_du_rythme" in str(err.value) and "maybe" in str(err.value)
    assert not files["reviewed"].exists()

    items[0]["skills"] = ["organisation", "autonomie"]  # the trainer adds a label
    items[1]["decision"] = "reject"
    files["out"].write_text(yaml.safe_dump({"candidates": items}, allow_unicode=True), encoding="utf-8")
    assert review.apply(files["out"], files["reviewed"], files["rejected"], SKILLS) == \
        {"accepted": 1, "rejected": 1, "left": 0}
    data = yaml.safe_load(files["reviewed"].read_text(encoding="utf-8"))
    example = data["nlu"][0]["examples"][0]
    assert data["nlu"][0]["intent"] == "tell_experience"
    assert example["metadata"] == {"skills": ["organisation", "autonomie"], "review": items[0]["ref"]}
    assert example["text"].strip() == "[prénom] ici: je gardais ma soeur tous les soirs"
    # decided once: never proposed again
    assert review.export(store, keyed, files["out"], files["reviewed"], files["rejected"]) == 0


def test_the_accepted_file_is_training_data_the_detector_reads(tmp_path: Path) -> None:
    from tools.yardstick import training_stories

    nlu = tmp_path / "nlu"
    path = nlu / "experiences" / "reviewed.yml"
    review._append_examples(path, [{"ref": "abc", "text": "j'ai tenu bon", "skills": ["perseverance"]}])
    stories, _ = training_stories(nlu)
    assert [(s.text, s.skills) for s in stories] == [("j'ai tenu bon", ("perseverance",))]
