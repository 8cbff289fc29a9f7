"""Challenger end to end, over HTTP against the real servers and the trained model:
a person confirms skills, takes the self-assessment in the chat, invites two referents
who answer on the referent page (real form posts, CSRF cookie included), gets a
proactive message, reaches a level, receives a badge whose public page says valid —
until an operator revokes it. Bad input on the referent page gets 4xx, never 5xx."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, List, Optional, Tuple

import pytest

from bot.config import ROOT

pytestmark = pytest.mark.e2e

STORY = (
    "L'été dernier j'ai bossé à la caisse d'un supermarché. Je recomptais toujours ma caisse "
    "deux fois avant de la rendre et je vérifiais chaque ticket. Un jour il manquait 10 euros, "
    "j'ai retrouvé l'erreur en reprenant tous les tickets un par un."
)
FOLLOW_UPS = ["Je tenais la caisse et je faisais les comptes le soir.", "Pas de difficulté particulière",
              "Au final mon chef m'a félicitée et m'a confié la caisse principale."]


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in m.get("buttons") or []]


class Browser:
    """A phone browser: cookies kept, forms posted as application/x-www-form-urlencoded."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, url: str, form: Optional[Dict[str, str]] = None,
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")


def form_fields(page: str) -> Tuple[str, List[str], List[str]]:
    """(csrf value, item field names, comment field names) of a referent page."""
    csrf = re.search(r'name="csrf"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf"', page)
    assert csrf, "no CSRF field on the referent page"
    items = sorted(set(re.findall(r'name="(q__[a-z_]+__[a-z_0-9]+)"', page)))
    comments = sorted(set(re.findall(r'name="(c__[a-z_]+)"', page)))
    return csrf.group(1) or csrf.group(2), items, comments


def reach_confirmed_skills(client, sender: str) -> None:
    client.say(sender, "salut")
    client.say(sender, "/affirm")
    client.say(sender, "Inès")
    answers = iter(FOLLOW_UPS)
    messages = client.say(sender, STORY)
    for _ in range(12):
        if "Tu te reconnais" in texts(messages):
            messages = client.say(sender, "/affirm")
        elif "Bravo 🎉" in texts(messages):
            return
        else:
            messages = client.say(sender, next(answers))
    pytest.fail(f"no confirmed skill: {texts(messages)}")


def take_assessment(client, sender: str) -> str:
    messages = client.say(sender, "/start_assessment")
    offered = [b["payload"] for b in buttons(messages) if b["payload"].startswith("/choose")]
    assert offered, texts(messages)
    skill_id = json.loads(offered[0][len("/choose"):])["skill"]
    messages = client.say(sender, offered[0])
    assert "C'est parti" in texts(messages)
    typed = iter(["toujours", "tout le temps", "ouais toujours", "4"])
    for n in range(30):
        text = texts(messages)
        if "Bravo, tu as fini le test" in text:
            return skill_id
        if "exemple concret" in text:
            messages = client.say(sender, "Je recompte toujours ma caisse deux fois avant de partir.")
        elif n % 3 == 1:  # sometimes typed rather than tapped
            messages = client.say(sender, next(typed, "toujours"))
        else:
            messages = client.say(sender, '/choose{"scale":"3"}')
    pytest.fail(f"the questionnaire did not end: {texts(messages)}")


LINK_RE = r"https?://\S+/referent/[A-Za-z0-9_-]+"


def address(name: str) -> str:
    """A fresh address per referent (the catcher is shared by the whole session)."""
    return f"{name.lower().replace('é', 'e')}-{uuid.uuid4().hex[:8]}@exemple.org"


def mail_to(client, to: str, timeout: float = 20) -> Dict[str, Any]:
    """The last mail the stack sent to `to`, read from the local mail catcher (real SMTP)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mails = [m for m in client.mails() if to in m["rcpt_to"]]
        if mails:
            return mails[-1]
        time.sleep(0.3)
    pytest.fail(f"no mail to {to}")


def invite(client, sender: str, skill_id: str, name: str, relation: str,
           email: Optional[str] = None) -> str:
    """Invite a referent from the chat; the link is also emailed to them (the local
    catcher in the tests and `make run`): both must be the same link."""
    messages = client.say(sender, '/invite_referent{"skill":"%s"}' % skill_id)
    assert "Qui veux-tu inviter" in texts(messages), texts(messages)
    messages = client.say(sender, name)
    assert f"{name}, c'est qui pour toi" in texts(messages)
    messages = client.say(sender, '/choose{"relation":"%s"}' % relation)
    assert "par email" in texts(messages), texts(messages)
    to = email or address(name)
    messages = client.say(sender, to)
    links = re.findall(LINK_RE, texts(messages))
    assert len(links) == 1, texts(messages)
    assert "Email envoyé" in texts(messages), texts(messages)
    assert re.findall(LINK_RE, mail_to(client, to)["body"]) == links
    return links[0]


def local(client, url: str) -> str:
    return client.web + urllib.parse.urlsplit(url).path


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def answer_questionnaire(client, link: str, value: str = "3", comment: str = "",
                         browser: Optional[Browser] = None) -> Tuple[Browser, int, str]:
    browser = browser or Browser()
    status, page = browser.open(local(client, link))
    assert status == 200, page[:500]
    csrf, items, comments = form_fields(page)
    assert items and comments
    form = {"csrf": csrf, "statement": "oui", **{name: value for name in items}}
    if comment:
        form[comments[0]] = comment
    status, page = browser.open(local(client, link), form)
    return browser, status, page


def give_address(client, browser: Browser, link: str, email: str) -> Tuple[int, str]:
    """The referent's address step: a code is sent to it."""
    status, page = browser.open(local(client, link))
    assert status == 200 and "confirme ton adresse" in page, page[:500]
    return browser.open(local(client, link) + "/email", {"csrf": csrf_of(page), "email": email})


def confirm_code(client, browser: Browser, link: str, email: str, page: str) -> Tuple[int, str]:
    code = re.search(r"\b(\d{6})\b", mail_to(client, email)["body"])
    assert code, "no code in the mail"
    return browser.open(local(client, link) + "/code", {"csrf": csrf_of(page), "code": code.group(1)})


def answer_page(client, link: str, value: str = "3", comment: str = "",
                email: Optional[str] = None) -> Tuple[int, str]:
    """A referent answers and confirms their address with the code mailed to them (through
    the local mail catcher): the whole path until « Merci »."""
    email = email or address("referent")
    browser, status, page = answer_questionnaire(client, link, value, comment)
    assert status == 200 and "confirme ton adresse" in page, page[:500]
    status, page = give_address(client, browser, link, email)
    assert status == 200 and "Entre ton code" in page, page[:500]
    return confirm_code(client, browser, link, email, page)


def bot_texts(client, sender: str) -> List[str]:
    status, body, _ = client.get(f"{client.rasa}/conversations/{sender}/tracker")
    assert status == 200
    return [e.get("text") or "" for e in json.loads(body)["events"] if e.get("event") == "bot"]


def wait_for(client, sender: str, needle: str, timeout: float = 30) -> List[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = bot_texts(client, sender)
        if any(needle in t for t in said):
            return said
        time.sleep(0.5)
    pytest.fail(f"the bot never said {needle!r}")


def badge_ids(client, sender: str) -> List[str]:
    messages = client.say(sender, "mes badges")
    return re.findall(r"/badges/([0-9a-f-]{36})/image\.png", json.dumps(messages))


def test_self_assessment_two_referents_levels_badge_and_revocation(client) -> None:
    sender = "rest:e2e-challenger"  # REST ids are rest:<sender>
    reach_confirmed_skills(client, sender)
    skill_id = take_assessment(client, sender)

    karim = invite(client, sender, skill_id, "Karim", "coach")
    lea = invite(client, sender, skill_id, "Léa", "tuteur")
    assert karim != lea

    # the first referent answers: proactive message, level « confirmé », a badge
    status, page = answer_page(client, karim, "3", comment="Toujours carré, bravo !")
    assert status == 200 and "Merci Karim" in page
    said = wait_for(client, sender, "Karim, ton coach, a répondu")
    wait_for(client, sender, "est prêt 🏅")
    assert any("Toujours carré, bravo !" in t for t in said) or wait_for(client, sender, "Toujours carré")
    # the link is single use
    status, page = Browser().open(local(client, karim))
    assert status == 410 and "déjà répondu" in page

    # the second referent: « expert »
    status, _ = answer_page(client, lea, "3")
    assert status == 200
    wait_for(client, sender, "Léa, ton tuteur de stage, a répondu")
    ids = badge_ids(client, sender)
    assert len(ids) == 2

    # every badge verifies: HTML page and its machine-readable twin
    for badge_id in ids:
        status, body, _ = client.get(f"{client.web}/badges/{badge_id}")
        assert status == 200 and "Ce badge est valide" in body.decode()
        status, body, _ = client.get(f"{client.web}/badges/{badge_id}.json")
        assert json.loads(body)["verification"]["ok"] is True
    levels = sorted(json.loads(client.get(f"{client.web}/badges/{i}.json")[1])["credential"]
                    ["credentialSubject"]["achievement"]["name"].rsplit("— ", 1)[1] for i in ids)
    assert levels == ["confirmé", "expert"]

    # an operator revokes one: its page and the status list say so
    env = dict(os.environ, **client.stack.env())
    done = subprocess.run([sys.executable, "-m", "bot.badges.admin", "revoke", ids[0]], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    status, body, _ = client.get(f"{client.web}/badges/{ids[0]}")
    assert status == 200 and "Ce badge est révoqué" in body.decode()
    assert json.loads(client.get(f"{client.web}/badges/{ids[0]}.json")[1])["verification"]["reason"] == "revoked"
    assert json.loads(client.get(f"{client.web}/badges/{ids[1]}.json")[1])["verification"]["ok"] is True


def test_referent_links_bad_input_gets_4xx(client) -> None:
    sender = "rest:e2e-challenger-bad"
    reach_confirmed_skills(client, sender)
    skill_id = take_assessment(client, sender)
    link = invite(client, sender, skill_id, "Sofiane", "employeur")
    url = local(client, link)
    browser = Browser()
    status, page = browser.open(url)
    csrf, items, comments = form_fields(page)
    good = {"csrf": csrf, "statement": "oui", **{name: "2" for name in items}}
    cases = [
        ({k: v for k, v in good.items() if k != "csrf"}, 403),
        ({**good, "csrf": "1700000000.deadbeef"}, 403),
        ({k: v for k, v in good.items() if k != "statement"}, 400),
        ({**good, items[0]: "7"}, 400),
        ({k: v for k, v in good.items() if k != items[-1]}, 400),
        ({**good, comments[0]: "x" * 1001}, 400),
        ({**good, "q__rigueur__inconnu_9": "2"}, 400),
    ]
    for form, expected in cases:
        status, page = browser.open(url, form)
        assert status == expected, (form.keys(), status, page[:300])
    status, page = browser.open(url, good, headers={"Origin": "https://evil.example"})
    assert status == 403
    for path in ["/referent/x", "/referent/" + "a" * 300, "/referent/%00%ff", "/referent/../../etc/passwd",
                 "/referent/" + urllib.parse.quote("été-🙂" * 5)]:
        status, page = Browser().open(client.web + path)
        assert 400 <= status < 500, (path, status)
    # the person cancels the link from the chat: the page says so
    messages = client.say(sender, "annuler une invitation")
    revoke = [b["payload"] for b in buttons(messages) if "Sofiane" in b["title"]]
    assert revoke, texts(messages)
    assert "ne marche plus" in texts(client.say(sender, revoke[0]))
    status, page = Browser().open(url)
    assert status == 410 and "annulé" in page
    # after all that, a correct post is still refused (revoked), cleanly
    status, _ = browser.open(url, good)
    assert status == 410


def test_self_answered_link_in_the_chat_browser_gives_no_badge(client) -> None:
    """The young person opens their own referent link where they chat: refused. From
    another browser, answers without a confirmed address never count."""
    sender = "rest:e2e-challenger-self"  # as REST stores it
    reach_confirmed_skills(client, sender)
    skill_id = take_assessment(client, sender)
    link = invite(client, sender, skill_id, "Karim", "coach")
    mine = Browser()
    status, _ = mine.open(client.web + "/")  # the chat page marks this browser
    assert status == 200
    status, page = mine.open(local(client, link))
    assert status == 403 and "Ce lien est pour ton référent" in page
    status, page = mine.open(local(client, link), {"statement": "oui"})
    assert status == 403
    # another browser: the answers are kept, but not counted without a confirmed address
    _, status, page = answer_questionnaire(client, link, "3")
    assert status == 200 and "confirme ton adresse" in page
    time.sleep(3)
    assert badge_ids(client, sender) == []
    assert not any("Karim, ton coach, a répondu" in t for t in bot_texts(client, sender))


def test_same_referent_address_twice_counts_once(client, store) -> None:
    sender = "rest:e2e-challenger-twice"
    reach_confirmed_skills(client, sender)
    skill_id = take_assessment(client, sender)
    same = address("karim")
    karim = invite(client, sender, skill_id, "Karim", "coach", email=same)
    lea = invite(client, sender, skill_id, "Léa", "tuteur")
    status, page = answer_page(client, karim, "3", email=same)
    assert status == 200 and "Merci Karim" in page
    wait_for(client, sender, "est prêt 🏅")
    # the second link answered with the same address: refused at the address step
    browser, status, page = answer_questionnaire(client, lea, "3")
    assert status == 200
    status, page = give_address(client, browser, lea, same.upper())  # case does not matter
    assert status == 409 and "déjà donné ton avis" in page
    assert len(store.referent_answers(sender, skill_id)) == 1
    ids = badge_ids(client, sender)
    assert len(ids) == 1  # « confirmé » only: « expert » needs two different referents
    credential = json.loads(client.get(f"{client.web}/badges/{ids[0]}.json")[1])["credential"]
    assert credential["credentialSubject"]["achievement"]["name"].endswith("confirmé")
    assert "adresse e-mail vérifiée" in json.dumps(credential["evidence"], ensure_ascii=False)
