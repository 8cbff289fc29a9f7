"""Is this message French? A small, explainable guess: en / es / ar-latn / fr.

Counts the function words that only one language uses (« the », « and »; « pero »,
« muy »; « ana », « bghit », digits used as letters in arabizi « 3andi », « m3a »)
against French ones. Anglicisms and street words French speakers use every day
(« ok », « hello », « cool », « stage », « wesh », « wallah », « inchallah ») count
for nobody. A message is foreign only when the foreign words clearly outnumber the
French ones; a one-word message is French unless it is clearly foreign (« hola »).
"""
from __future__ import annotations

import re
from typing import Dict, FrozenSet, List

from bot.safety.normalise import fold

FR = "fr"

_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# digits standing for Arabic letters (3 = ع, 7 = ح, 9 = ق, 2 = ء, 5 = خ) inside a word
_ARABIZI_DIGIT = re.compile(r"^(?=.*[a-z])(?=.*[23579])[a-z]*[23579][a-z]+[a-z0-9]*$|^[a-z]+[23579]$")
_NOT_ARABIZI = re.compile(r"^\d+(h|e|er|eme|ere|nd|nde|k|min|ans?|x|km|m|g|j)\d*$")

FRENCH: FrozenSet[str] = frozenset("""
je j tu il elle on nous vous ils elles le la les l un une des du de d et est suis ai as a au aux
dans pour avec pas ne n que qu qui c ce cet cette ces mon ma mes ton ta tes son sa ses notre nos
votre vos leur leurs etait ete fait faire fais mais ou tres trop bien plus moi toi ca sa en y me m
te t se s sur sous chez quand comme aussi parce alors donc apres avant j'ai c'est jai cest jsuis
chui jveux j'etais jetais j'avais javais travaille aide aider aidais aidé bosse bossé boulot taf
famille copains copines amis potes ecole lycee college fac classe equipe patron chef clients
toujours jamais souvent beaucoup petit petite grand grande tout tous toute toutes rien quelque
voila bah ben ouais oui non merci salut bonjour bonsoir coucou mercii ptit vrai vraiment genre
""".split())

FOREIGN: Dict[str, FrozenSet[str]] = {
    "en": frozenset("""
the and i i'm im i've you your you're my is are was were it it's to of with for this that what
how why when where who we they he she his her have has had do does did don't dont doesn't didn't
can can't cannot could would should will won't not at from about because there here some just
really very get got went go going want know think speak english help please thanks thank people
worked working work job customers if be been being am our us them their by after before into
also than then those these which while during myself yourself anyone someone something nothing
every each other more most many much hi hey hello yes yeah need good morning name like love day time looking
""".split()),
    "es": frozenset("""
el los las una por mi con para pero muy mucho mucha cuando donde porque estoy soy tengo hablo hablas
habla espanol ayuda quiero puedo lo del al este esta eso ese fue era hice hacer equipo clientes
tambien nada bien bueno hay sin sobre anos dias restaurante ayudo ayudar ayude mis nosotros
ellos pues entonces hola gracias como trabajo trabaje trabajaba yo usted eres es estaba tenia
familia hermano hermana madre padre amigos escuela casa tiempo siempre nunca ahora aqui senor
hace hacia meses ano anos tengo tienes tenemos nuevos nuevas nuevo que qué son las busco semana
ayudas ayudame fui ninos juegos padres se sé poner nunca he has perfecto vale puedes puede repetir
pregunta cuanto cuantos dura esto esta estas clase media hora si claro desde conozco toda todo
ciudad aqui hago noche manana estudio organice companeros conseguimos mas kilos chicas sabados
dificil perdemos vez cayo sistema tuvimos cobrar mano durante atendia hacia cierres caja camareros
llegue alla cuidaba abuela llevaba cuentas tienda tio entiendo competencias blandas trabajar
trabajo trabaje trabajado curriculum repartidor bici limpieza oficinas recogida alimentos
universidad entreno equipo femenino motivarlas cuando canal recetas subo cada suscriptores
monitor campamento organizaba resolvia peleas hablaba vendimia jornadas diez aguante final jefe
pidio volver cajera supermercado cobrar estoy ahi donde buenas dias tardes noches perdona
""".split()),
    "ar-latn": frozenset("""
ana nta nti enta enti howa hiya hna ntoma rani raki rak rah wach wash kifach kifash kifech 3lach
3lash chno chnou chnu chkoun chkon bghit bghina bghiti khdemt khdmt khdamt khdem kan kont kount
kunt dyal dial dyali dyalek dyalo m3a 3and 3andi 3endi bzaf bezzaf bzzaf shwiya chwiya chwia
daba drari lyoum lyom lbare7 ghadi ghan mzyan mzyana zwin zwina wlad khouya khoya labas wakha
safi walo kayn kayna makaynch makayn ma3rftch ma3reftch mafhemtch fhemt nkhdem nkhdm ndir dert
derna kanet kanou f l3amal l7anout 7anout lkhedma khedma sahbi sa7bi hadi hada hadchi hadak
3la 3lik 3liya lik liya ndwi nhder kanhder kanhdar tanhder darija mgharba
iyeh ih eh hakda hakka marhba ismi smiti 3omri sana min n9ra nakra kandir kol nhar tbekh fih
assalamu alaykum salamu alikoum hal yumkinuka tatakallam bil 3arabiya l3arbiya inta inti
choukran chokran shukran bezaf mlih mli7 kifek kifak wesh rak chhal chhal 3ndek 3ndi ndir
nta3 ta3 dyali khasni bghit n9der nkhdem ya3ni wach nta yak 7na nsit wlah mchit jit kayen
""".split()),
}
# French words another language writes the same way: they count for neither
SHARED: Dict[str, FrozenSet[str]] = {
    "en": frozenset("a me on an as son but in pour fin ma".split()),
    "es": frozenset("en un la de me se te y a no tu mi le les con es sur para".split()),
    "ar-latn": frozenset("a f l la ma fi li ya".split()),
}
# words that alone are enough (one-word messages)
STRONG: Dict[str, FrozenSet[str]] = {
    "en": frozenset("english please thanks speak".split()),
    "es": frozenset("hola gracias espanol".split()),
    "ar-latn": frozenset("salam3alikom bghit kifach labas wach darija".split()),
}
# French speakers' everyday loanwords: neutral (« ok », « hello », « wesh », « wallah »…)
NEUTRAL: FrozenSet[str] = frozenset("""
ok okay hello hi hey cool stage marketing job team manager meeting deadline brief feedback weekend
week-end fun chill top best nice sorry yes no wesh wallah walah inchallah inshallah hamdoulah
hamdullah miskine zarma starfoullah mashallah sahbi kho frero bro sis gg lol mdr ptdr full
""".split())


_SPANISH_MARKS = re.compile("[¿¡ñÑ]")


def _tokens(text: str) -> List[str]:
    return _WORDS.findall(fold(text))


def scores(text: str) -> Dict[str, int]:
    counts = {FR: 0, "en": 0, "es": 0, "ar-latn": 0}
    for token in _tokens(text):
        if token in NEUTRAL:
            continue
        if token in FRENCH:
            counts[FR] += 1
            continue
        for lang, vocabulary in FOREIGN.items():
            if token in vocabulary:
                counts[lang] += 1
        if _ARABIZI_DIGIT.match(token) and not _NOT_ARABIZI.match(token) and token not in FOREIGN["ar-latn"]:
            counts["ar-latn"] += 1
    return counts


def guess_language(text: str) -> str:
    """'fr', 'en', 'es' or 'ar-latn'."""
    if not text or text.lstrip().startswith("/"):
        return FR
    tokens = [t for t in _tokens(text) if t not in NEUTRAL]
    if not tokens:
        return FR
    counts = scores(text)
    if _SPANISH_MARKS.search(text):  # ¿ ¡ ñ: written in Spanish
        counts["es"] += 2
    counts.pop(FR)
    lang, best = max(counts.items(), key=lambda kv: kv[1])
    if len(tokens) == 1:
        return lang if tokens[0] in STRONG.get(lang, ()) else FR
    french = sum(1 for t in tokens if t in FRENCH and t not in SHARED[lang])
    if best >= 2 and best > 1.5 * french and best >= 0.2 * len(tokens):
        return lang
    return FR
