"""One written form for the many ways young people type the same thing.

Lower case, no accents, no punctuation, apostrophes become spaces (« j'ai » ->
« j ai »), « ne »/« n' » dropped (« je n'en peux plus » -> « je en peux plus »),
letters typed three times or more kept once (« plusss » -> « plus »), SMS and slang
forms expanded (« jveux » -> « je veux », « chui » -> « je suis », « g envie » ->
« j ai envie », « plu » -> « plus », « jpp » -> « j en peux plus », « daronne » ->
« mere »). Cue patterns in ``data/safety/cues.yml`` are written on this form.
"""
from __future__ import annotations

import re
import unicodedata
from typing import List

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_LAUGH = re.compile("[\U0001F602\U0001F923\U0001F606\U0001F639]")  # 😂 🤣 😆 😹 -> « mdr »
_REPEATS = re.compile(r"([a-z])\1{2,}")
_JPP = re.compile(r"\bjp{2,}\b")
_TOKEN = re.compile(r"[a-z0-9]+'?")

SMS = {
    "jai": "j ai", "g": "j ai", "javais": "j avais", "jetais": "j etais",
    "jen": "j en", "jpp": "j en peux plus", "jpeux": "je peux", "jpeu": "je peux",
    "jsuis": "je suis", "jsui": "je suis", "jss": "je suis", "chui": "je suis", "chuis": "je suis",
    "chu": "je suis", "sui": "suis", "jveux": "je veux", "jveu": "je veux", "jvx": "je veux",
    "veu": "veux", "vx": "veux", "jvais": "je vais", "jvai": "je vais", "jv": "je vais",
    "jme": "je me", "jte": "je te", "jle": "je le", "jla": "je la", "jsais": "je sais",
    "jsp": "je sais pas", "jfais": "je fais", "jdois": "je dois", "jpense": "je pense",
    "jcrois": "je crois", "jdors": "je dors", "jmange": "je mange", "jpleure": "je pleure",
    "jmen": "je m en", "plu": "plus", "pu": "plus", "pa": "pas", "pas": "pas", "ke": "que",
    "ki": "qui", "koi": "quoi", "kan": "quand", "qd": "quand", "tt": "tout", "ts": "tous",
    "pr": "pour", "ds": "dans", "bcp": "beaucoup", "pk": "pourquoi", "pq": "pourquoi",
    "pcq": "parce que", "pck": "parce que", "psk": "parce que", "tjrs": "toujours",
    "tjr": "toujours", "mtn": "maintenant", "mnt": "maintenant", "ajd": "aujourd hui",
    "auj": "aujourd hui", "mm": "meme", "ct": "c etait", "cetait": "c etait", "cest": "c est",
    "ya": "y a", "yavait": "y avait", "dla": "de la", "tkt": "t inquiete", "stp": "s il te plait",
    "svp": "s il vous plait", "vrmt": "vraiment", "vrm": "vraiment", "envi": "envie",
    "mourrir": "mourir", "mouri": "mourir", "oim": "moi", "ouam": "moi",
    "daron": "pere", "reup": "pere", "daronne": "mere", "reum": "mere", "reuf": "frere",
    "reus": "soeur", "keum": "mec", "mont": "m ont",
    "qqn": "quelqu un", "qqch": "quelque chose",
}
# « il ma frappé » (m'a written « ma ») before these participles
PARTICIPLES = {
    "frappe", "frappee", "tape", "tapee", "battu", "battue", "gifle", "giflee", "viole", "violee",
    "touche", "touchee", "force", "forcee", "menace", "menacee", "pousse", "poussee", "insulte",
    "insultee", "vire", "viree", "mis", "mise", "jete", "jetee", "enferme", "enfermee", "dit",
    "fait", "harcele", "harcelee", "etrangle", "etranglee", "tue", "laisse", "laissee", "chasse",
    "chassee", "foutu", "foutue", "humilie", "humiliee", "agresse", "agressee", "abandonne",
    "abandonnee", "rackette", "quitte", "quittee", "lache", "lachee", "rendu", "rendue",
}
DROPPED = {"ne", "n"}
_VOWELS = set("aeiouy")
# « jarrive », « jhesite »: j + a verb starting with a vowel (« jamais », « jardin » stay)
J_VOWEL = {"jarrive", "jarrivais", "jarrete", "jarretais", "jattends", "jaimerais", "jhesite", "jy",
           "javoue", "jessaie", "jecris", "jentends", "jirai", "jouvre", "jappelle", "jaurai", "jallais"}


def fold(text: str) -> str:
    """Lower case, no accents, one kind of apostrophe."""
    text = _LAUGH.sub(" mdr ", text or "").translate(_APOSTROPHES).lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> List[str]:
    """The normalised words of a message."""
    folded = _REPEATS.sub(r"\1", _JPP.sub("jpp", fold(text)))
    out: List[str] = []
    for raw in _TOKEN.findall(folded):
        if raw.endswith("'"):  # an elision: j' m' l' qu' -> j m l qu
            stem = raw[:-1]
            if stem and stem not in DROPPED:
                out.append(stem)
            continue
        if raw in SMS:
            out.extend(SMS[raw].split())
        elif raw in J_VOWEL:
            out.extend(["j", raw[1:]])
        elif len(raw) > 3 and raw[0] == "j" and raw[1] not in _VOWELS and raw[1].isalpha() and raw[1] != "'":
            out.extend(["je", raw[1:]])  # « jcraque », « jserai », « jresterais »: je + verb
        else:
            out.append(raw)
    result: List[str] = []
    for i, word in enumerate(out):
        if word in DROPPED:
            continue
        if word == "ma" and i + 1 < len(out) and out[i + 1] in PARTICIPLES:
            result.extend(["m", "a"])
            continue
        result.append(word)
    return result


def normalise(text: str) -> str:
    """The message as the cue patterns see it: normalised words joined by one space."""
    return " ".join(words(text))
