"""Expiring evidence links: URLs a case system can fetch without a token, for the media and the bundle a task
lists. A link is its path plus `exp` (Unix seconds) and `sig`, the base64url HMAC-SHA256 of `path` and `exp`
under the gateway's link key; altering either, or fetching after `exp`, is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

LINK_PREFIX = "/api/links"


class LinkRefused(ValueError):
    """Why a link was refused: `code` is expired, bad_signature or malformed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


LINK_KEY_PURPOSE = "evidence links v1"  # NoteSigner.derive_key: links need no secret of their own


def _mac(key: bytes, path: str, exp: int) -> str:
    digest = hmac.new(key, f"{path}\n{exp}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def media_path(sha256: str) -> str:
    return f"{LINK_PREFIX}/media/{sha256}"


def bundle_path(clue_code: str) -> str:
    return f"{LINK_PREFIX}/bundle/{clue_code}"


def sign_link(key: bytes, base_url: str, path: str, exp: int) -> str:
    return f"{base_url.rstrip('/')}{path}?{urlencode({'exp': exp, 'sig': _mac(key, path, exp)})}"


def verify_link(key: bytes, path: str, exp: str | None, sig: str | None, now: float) -> None:
    """Raise LinkRefused unless `sig` is ours for `path` and `exp`, and `exp` has not passed."""
    if not exp or not sig or not exp.isdigit() or len(exp) > 12:
        raise LinkRefused("malformed", "the link lacks a valid exp or sig")
    if not hmac.compare_digest(_mac(key, path, int(exp)), sig):
        raise LinkRefused("bad_signature", "the link's signature does not match (altered or not ours)")
    if int(exp) <= now:
        raise LinkRefused("expired", "the link has expired; ask for the task's links again")


class LinkSigner:
    """Signs the links of one task: every link of a task expires at the same time."""

    def __init__(self, key: bytes, base_url: str, ttl_s: float) -> None:
        self.key = key
        self.base_url = base_url
        self.ttl_s = ttl_s

    def expiry(self, now: float) -> int:
        return int(now + self.ttl_s)

    def media(self, sha256: str, exp: int) -> str:
        return sign_link(self.key, self.base_url, media_path(sha256), exp)

    def bundle(self, clue_code: str, exp: int) -> str:
        return sign_link(self.key, self.base_url, bundle_path(clue_code), exp)
