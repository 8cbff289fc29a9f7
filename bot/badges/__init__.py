"""Open Badges 3.0 credentials for certified skills (Challenger step).

``BadgeIssuer`` (issuer.py) is the entry point; ``BadgeRequest`` (credential.py) says
what to certify. Keys: keys.py; VC-JWT: vc_jwt.py; revocation: status.py; images and
baking: baking.py; ``python -m bot.badges.demo --out DIR`` shows the result.
"""
from bot.badges.credential import BadgeRequest, Level, Urls
from bot.badges.issuer import BadgeIssuer, IssuedBadge
from bot.badges.vc_jwt import Verification

__all__ = ["BadgeIssuer", "BadgeRequest", "IssuedBadge", "Level", "Urls", "Verification"]
