"""A student's identity: issued by the server, carried in a signed cookie, never shown.

A browser's first visit gets a random id (`new_id`), and the cookie the page then sets holds
`v1.<id>.<signature>`, the signature an HMAC-SHA256 of the id under the server's key
(`secret_key`). Every session verifies the cookie (`verify`, constant-time); a value that is
unsigned, wrongly signed or malformed is ignored and a fresh identity issued instead. So an
id alone, however it was learnt, cannot be turned into a cookie.

The id itself is a secret of that browser. What the runs folder records as a run's owner is
the id's *tag* (`owner_tag`), a second HMAC of it: the tag identifies the owner to the server,
but cannot be made into a cookie, and downloads strip even the tag.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

VERSION = "v1"
_ID = re.compile(r"[0-9a-f]{32}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def new_id() -> str:
    """A fresh, unguessable browser id (128 random bits, hex)."""
    return secrets.token_hex(16)


def _mac(key: bytes, purpose: str, browser_id: str) -> str:
    return hmac.new(key, f"{purpose}:{browser_id}".encode(), hashlib.sha256).hexdigest()


def sign(browser_id: str, key: bytes) -> str:
    """The cookie value that carries `browser_id`."""
    if not _ID.fullmatch(browser_id):
        raise ValueError("not a browser id")
    return f"{VERSION}.{browser_id}.{_mac(key, 'cookie', browser_id)}"


def verify(cookie: object, key: bytes) -> str | None:
    """The browser id a cookie value carries, or None unless it is well formed and signed."""
    if not isinstance(cookie, str) or len(cookie) > 200:
        return None
    version, _, rest = cookie.partition(".")
    browser_id, _, signature = rest.partition(".")
    if version != VERSION or not _ID.fullmatch(browser_id) or not _SIGNATURE.fullmatch(
            signature):
        return None
    if not hmac.compare_digest(signature, _mac(key, "cookie", browser_id)):
        return None
    return browser_id


def owner_tag(browser_id: str, key: bytes) -> str:
    """What a run records as its owner: derived from the id, useless as a cookie."""
    return _mac(key, "owner", browser_id)[:32]
