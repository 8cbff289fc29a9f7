"""Open Badges 3.0 credentials: issuance, VC-JWT, keys, revocation, baking, demo.

Cross-checked with openbadgeslib's own verifier (``OB3Verifier``), image extraction
and status-list checking, fed with the keys we publish in our JWK Set.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from openbadgeslib.ob3 import OB3VerificationError, OB3Verifier
from PIL import Image

from bot.badges import BadgeIssuer, BadgeRequest
from bot.badges.baking import bake_png, bake_svg, extract_png, extract_svg, render_png, render_svg
from bot.badges.keys import KeyStore, find_jwk, public_key_from_jwk, public_pem
from bot.badges.status import MIN_BITS, StatusList, bit_is_set
from bot.badges.vc_jwt import decode_unverified, sign_payload, verify
from bot.badges import demo
from bot.referentiel import default_referentiel

BASE = "https://atouts.example.org"
EMAIL = "Camille.Martin@example.org"
REFERENTS = ("Nadia Benali", "Jules Fournier")  # never given to the badge code: must not leak anyway


@pytest.fixture
def issuer(tmp_path: Path) -> BadgeIssuer:
    return BadgeIssuer(BASE, tmp_path / "data")


@pytest.fixture
def request_() -> BadgeRequest:
    skill = default_referentiel().get("travail_en_equipe")
    assert skill is not None
    return BadgeRequest(skill=skill, level="confirme", referents=2, min_referents=1,
                        subject_ref="sender-42", email=EMAIL)


def published_pem(issuer: BadgeIssuer, token: str) -> bytes:
    """The public key a third party gets: JWKS at /.well-known/jwks.json, key named by the kid."""
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"]
    assert kid.startswith(f"{BASE}/.well-known/jwks.json#")
    jwk = find_jwk(json.loads(json.dumps(issuer.jwks())), kid)
    assert jwk is not None and "d" not in jwk
    return public_pem(public_key_from_jwk(jwk))


def reencode(token: str, payload: dict) -> str:
    header, _, signature = token.split(".")
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


# --- issuance and openbadgeslib verification -------------------------------------------


def test_issued_badge_verifies_with_openbadgeslib_and_ours(issuer, request_):
    badge = issuer.issue(request_)
    credential = OB3Verifier(published_pem(issuer, badge.token)).verify(badge.token)
    assert credential.id == badge.id and credential.issuer.id == f"{BASE}/issuer"
    assert credential.achievement.name == "Travail en équipe — confirmé"
    result = issuer.verify(badge.token)
    assert result.ok and result.reason == "ok" and result.kid == badge.kid


def test_credential_shape_follows_ob_3_0_3(issuer, request_):
    badge = issuer.issue(request_, now=datetime(2026, 3, 1, 12, 0, 30, 123456, tzinfo=timezone.utc))
    vc = decode_unverified(badge.token)
    header = json.loads(base64.urlsafe_b64decode(badge.token.split(".")[0] + "==="))
    assert set(header) == {"alg", "kid", "typ"} and header["alg"] == "EdDSA" and header["typ"] == "JWT"
    assert vc["@context"][:2] == ["https://www.w3.org/ns/credentials/v2",
                                  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["id"].startswith("urn:uuid:") and vc["jti"] == vc["id"]
    assert vc["issuer"] == {"id": f"{BASE}/issuer", "type": ["Profile"], "name": "Atouts", "url": BASE}
    assert vc["iss"] == vc["issuer"]["id"]
    assert vc["validFrom"] == "2026-03-01T12:00:30Z" and vc["nbf"] == vc["iat"] == 1772366430
    assert "validUntil" not in vc and "exp" not in vc and "vc" not in vc
    subject = vc["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"] and vc["sub"] == subject["id"]
    assert subject["id"].startswith("urn:uuid:")
    achievement = subject["achievement"]
    assert achievement["id"] == f"{BASE}/referentiel/travail_en_equipe#confirme"
    assert achievement["type"] == ["Achievement"]
    assert "auto-évaluée" in achievement["criteria"]["narrative"]
    assert "au moins 1 référent" in achievement["criteria"]["narrative"]
    assert {a["targetFramework"] for a in achievement["alignment"]} == {
        "Atouts — référentiel des savoir-être professionnels", "France Travail — savoir-être professionnels (ROME)"}
    assert "2 référents" in vc["evidence"][0]["narrative"]
    assert vc["credentialStatus"] == {
        "id": f"{BASE}/status/1#{badge.status_index}", "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": str(badge.status_index),
        "statusListCredential": f"{BASE}/status/1"}


def test_recipient_is_pseudonymous_and_email_hashed(issuer, request_):
    first, second = issuer.issue(request_), issuer.issue(request_)
    assert first.credential["credentialSubject"]["id"] == second.credential["credentialSubject"]["id"]
    identity = first.credential["credentialSubject"]["identifier"][0]
    assert identity["type"] == "IdentityObject" and identity["hashed"] is True
    assert identity["identityType"] == "emailAddress"
    expected = hashlib.sha256((EMAIL.lower() + identity["salt"]).encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${expected}"
    other = BadgeRequest(**{**request_.__dict__, "subject_ref": "sender-43", "email": None})
    third = issuer.issue(other)
    assert third.credential["credentialSubject"]["id"] != first.credential["credentialSubject"]["id"]
    assert "identifier" not in third.credential["credentialSubject"]


def test_no_personal_data_in_the_credential(issuer, request_):
    badge = issuer.issue(request_)
    texts = [badge.token, json.dumps(decode_unverified(badge.token), ensure_ascii=False),
             badge.svg.decode("utf-8"), badge.png.decode("latin-1")]
    for text in texts:
        for secret in (EMAIL, EMAIL.lower(), "Camille", "Martin", "sender-42", *REFERENTS):
            assert secret not in text


# --- rejections ------------------------------------------------------------------------


def test_tampered_badge_is_rejected(issuer, request_):
    badge = issuer.issue(request_)
    payload = decode_unverified(badge.token)
    payload["credentialSubject"]["achievement"]["name"] = "Travail en équipe — expert"
    forged = reencode(badge.token, payload)
    with pytest.raises(OB3VerificationError, match="(?i)signature"):
        OB3Verifier(published_pem(issuer, badge.token)).verify(forged)
    result = issuer.verify(forged)
    assert not result.ok and result.reason == "bad_signature"


def test_expired_badge_is_rejected(issuer, request_):
    now = datetime.now(timezone.utc)
    expired = BadgeRequest(**{**request_.__dict__, "valid_until": now - timedelta(days=1)})
    badge = issuer.issue(expired, now=now - timedelta(days=30))
    assert "exp" in decode_unverified(badge.token) and "validUntil" in badge.credential
    with pytest.raises(OB3VerificationError, match="(?i)expired"):
        OB3Verifier(published_pem(issuer, badge.token)).verify(badge.token)
    assert issuer.verify(badge.token).reason == "expired"
    valid = BadgeRequest(**{**request_.__dict__, "valid_until": now + timedelta(days=365)})
    assert issuer.verify(issuer.issue(valid).token).ok


def test_badge_signed_by_another_key_is_rejected(issuer, request_, tmp_path):
    impostor = BadgeIssuer(BASE, tmp_path / "impostor")  # same URLs, its own key
    fake = impostor.issue(request_)
    genuine = issuer.issue(request_)
    with pytest.raises(OB3VerificationError, match="(?i)signature"):
        OB3Verifier(published_pem(issuer, genuine.token)).verify(fake.token)
    assert issuer.verify(fake.token).reason == "unknown_key"
    # the impostor's token relabelled with our kid: the signature does not match our key
    payload = decode_unverified(fake.token)
    stolen_kid = sign_payload(payload, impostor.keys.current(), issuer.urls.key_id(genuine.kid))
    assert issuer.verify(stolen_kid).reason == "bad_signature"


def test_verify_rejects_garbage_and_wrong_issuer(issuer, request_, tmp_path):
    assert issuer.verify("not.a.jwt").reason == "malformed"
    other = BadgeIssuer("https://other.example.org", tmp_path / "data")  # same keys, other issuer id
    token = other.issue(request_).token
    assert verify(token, issuer.jwks()).ok
    assert issuer.verify(token).reason == "wrong_issuer"


# --- keys ------------------------------------------------------------------------------


def test_keys_are_created_once_with_private_file_mode_0600(tmp_path):
    store = KeyStore(tmp_path / "keys")
    key = store.current()
    assert store.current().kid == key.kid
    private = tmp_path / "keys" / f"{key.kid}.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert len(store.pseudonym_secret()) == 32
    assert stat.S_IMODE((tmp_path / "keys" / "pseudonym.secret").stat().st_mode) == 0o600
    jwks = store.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [key.kid]
    assert set(jwks["keys"][0]) == {"kty", "crv", "x", "kid", "alg", "use"}  # never "d"


def test_key_rotation_keeps_old_badges_verifiable(issuer, request_, tmp_path):
    old = issuer.issue(request_)
    new_kid = issuer.rotate_key()
    new = issuer.issue(request_)
    assert new.kid == new_kid != old.kid
    assert {k["kid"] for k in issuer.jwks()["keys"]} == {old.kid, new.kid}
    assert not (tmp_path / "data" / "keys" / f"{old.kid}.pem").exists()  # old private key gone
    for badge in (old, new):
        assert issuer.verify(badge.token).ok
        OB3Verifier(published_pem(issuer, badge.token)).verify(badge.token)
    with pytest.raises(OB3VerificationError):  # each badge needs its own key
        OB3Verifier(published_pem(issuer, new.token)).verify(old.token)


# --- revocation ------------------------------------------------------------------------


def _bits(status_credential: dict) -> bytes:
    encoded = status_credential["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")  # multibase base64url, no padding
    return gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))


def test_status_list_encoding(tmp_path):
    status = StatusList(tmp_path / "status.json", f"{BASE}/status/1")
    indexes = {status.allocate() for _ in range(50)}
    assert len(indexes) == 50 and all(0 <= i < MIN_BITS for i in indexes)
    chosen = sorted(indexes)[7]
    status.set_revoked(chosen)
    document = status.credential(f"{BASE}/issuer")
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["id"] == f"{BASE}/status/1" and document["issuer"] == f"{BASE}/issuer"
    assert document["credentialSubject"]["type"] == "BitstringStatusList"
    assert document["credentialSubject"]["statusPurpose"] == "revocation"
    bits = _bits(document)
    assert len(bits) * 8 == MIN_BITS == 131072
    assert [i for i in range(MIN_BITS) if bits[i // 8] & (0x80 >> (i % 8))] == [chosen]
    assert bit_is_set(document, chosen) and not bit_is_set(document, sorted(indexes)[0])
    status.set_revoked(chosen, False)
    assert not bit_is_set(status.credential(f"{BASE}/issuer"), chosen)
    with pytest.raises(KeyError):
        status.set_revoked(next(i for i in range(MIN_BITS) if i not in indexes))


def test_revocation_flips_the_bit_and_verify_reports_it(issuer, request_):
    badge, other = issuer.issue(request_), issuer.issue(request_)
    assert issuer.verify(badge.token).ok
    issuer.revoke(badge.status_index)
    assert bit_is_set(issuer.status_list_credential(), badge.status_index)
    result = issuer.verify(badge.token)
    assert not result.ok and result.reason == "revoked"
    assert issuer.verify(other.token).ok
    # openbadgeslib fetches the signed list (served at /status/1) and refuses the badge
    served = {f"{BASE}/status/1": issuer.status_list_jwt().encode()}
    pem = published_pem(issuer, badge.token)
    with pytest.raises(OB3VerificationError, match="revocation"):
        OB3Verifier(pem).verify(badge.token, check_status=True, download=served.__getitem__)
    OB3Verifier(pem).verify(other.token, check_status=True, download=served.__getitem__)
    issuer.revoke(badge.status_index, revoked=False)
    assert issuer.verify(badge.token).ok


# --- baking ----------------------------------------------------------------------------


def test_baked_png_and_svg_round_trip(issuer, request_):
    badge = issuer.issue(request_)
    assert extract_png(badge.png) == badge.token
    assert extract_svg(badge.svg) == badge.token
    assert OB3Verifier.extract_token_from_png(badge.png) == badge.token
    assert OB3Verifier.extract_token_from_svg(badge.svg) == badge.token
    image = Image.open(io.BytesIO(badge.png))
    assert image.format == "PNG" and image.size == (512, 512)
    svg = badge.svg.decode("utf-8")
    assert 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in svg
    assert svg.index("<openbadges:credential") < svg.index("<title>")  # first child of <svg>
    assert "Travail en équipe" in svg and "CONFIRMÉ" in svg
    assert svg.count("<openbadges:credential") == 1 == badge.png.count(b"openbadgecredential")


def test_baking_refuses_a_second_credential_and_svg_replaces_it():
    png = bake_png(render_png("Rigueur", "expert", "expert"), "a.b.c")
    with pytest.raises(ValueError):
        bake_png(png, "d.e.f")
    svg = bake_svg(bake_svg(render_svg("Rigueur", "expert", "expert"), "a.b.c"), "d.e.f")
    assert extract_svg(svg) == "d.e.f" and svg.count(b"<openbadges:credential") == 1


# --- demo ------------------------------------------------------------------------------


def test_demo_writes_the_five_files(tmp_path):
    out = tmp_path / "out"
    demo.main(["--out", str(out), "--data-dir", str(tmp_path / "data")])
    assert sorted(p.name for p in out.iterdir()) == sorted(demo.FILES)
    token = (out / "credential.jwt").read_text()
    assert json.loads((out / "credential.json").read_text()) == decode_unverified(token)
    OB3Verifier((out / "issuer-public.pem").read_bytes()).verify(token)
    assert extract_png((out / "badge.png").read_bytes()) == token
    assert extract_svg((out / "badge.svg").read_bytes()) == token
    assert "camille.demo" not in token + (out / "credential.json").read_text()


def test_claims_must_match_the_credential_dates(issuer, request_):
    badge = issuer.issue(request_)
    payload = decode_unverified(badge.token)
    payload["nbf"] -= 3600  # validFrom unchanged: OB 3.0 says nbf MUST equal validFrom
    key = issuer.keys.current()
    token = sign_payload(payload, key, issuer.urls.key_id(key.kid))
    assert issuer.verify(token).reason == "invalid"
