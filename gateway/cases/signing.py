"""Standard Webhooks 1.0 symmetric signatures (`spec/standard-webhooks.md` of standard-webhooks/standard-webhooks)
and the `Idempotency-Key` header (IETF httpapi draft: an RFC 8941 String item) that goes with them.

Pure functions: the caller passes the time, so senders, receivers and tests agree on what "now" is.
Signed content is `{msg_id}.{timestamp}.{body}` over the exact body bytes; the signature header is `v1,` +
base64(HMAC-SHA256), one per secret, space-separated, so a receiver keeps working while a secret rotates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.errors import InputError

SECRET_PREFIX = "whsec_"
# The spec: "at least 24 bytes (192 bits, 512 maximum)".
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_TOLERANCE_S = 300

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# Visible ASCII without "." (the separator of the signed content: an id holding one could shift bytes between
# id and timestamp under the same signature) and without the space and quote characters of the headers.
_MSG_ID = re.compile(r"[!#-\-/-~]{1,256}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class SecretError(InputError, ValueError):
    """A webhook secret that is not `whsec_` + base64 of 24 to 64 bytes; the message says which part is wrong
    and never repeats the secret. A ValueError too, so a pydantic field validator reports it as the field's."""


@dataclass(frozen=True)
class WebhookSecret:
    """The decoded key of a `whsec_` secret. Its repr hides the key, so it can sit in logged config objects."""

    key: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> WebhookSecret:
        text = text.strip()
        if not text.startswith(SECRET_PREFIX):
            raise SecretError(f"a webhook secret is {SECRET_PREFIX!r} followed by base64 (Standard Webhooks); "
                              f"this one does not start with {SECRET_PREFIX!r}"
                              if text else "a webhook secret must not be empty")
        encoded = text[len(SECRET_PREFIX):]
        if not _BASE64.fullmatch(encoded) or ("=" in encoded and len(encoded) % 4):
            raise SecretError(f"the part after {SECRET_PREFIX!r} is not base64 (A-Z a-z 0-9 + / and = padding)")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as exc:
            raise SecretError(f"the part after {SECRET_PREFIX!r} is not base64: {exc}") from None
        if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
            raise SecretError(f"a webhook secret decodes to {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes; "
                              f"this one decodes to {len(key)}")
        return cls(key)

    @classmethod
    def generate(cls, n_bytes: int = 32) -> WebhookSecret:
        return cls(_random.token_bytes(n_bytes))

    def text(self) -> str:
        """The `whsec_` form, to hand to the other party."""
        return SECRET_PREFIX + base64.b64encode(self.key).decode("ascii")


class VerificationError(Exception):
    """A delivery that does not prove it came from a holder of the secret, now. `code` names the reason for a
    JSON answer or a counter label; the message is for people."""

    code = "unverified"


class MissingHeader(VerificationError):
    code = "missing_header"


class BadMessageId(VerificationError):
    code = "bad_message_id"


class BadTimestamp(VerificationError):
    code = "bad_timestamp"


class TimestampTooOld(VerificationError):
    code = "too_old"


class TimestampTooNew(VerificationError):
    code = "too_new"


class NoMatchingSignature(VerificationError):
    code = "no_matching_signature"


@dataclass(frozen=True)
class Verified:
    msg_id: str
    timestamp: int


def check_msg_id(msg_id: str) -> str:
    if not _MSG_ID.fullmatch(msg_id):
        raise ValueError(f"a webhook id is 1-256 visible ASCII characters without '.', '\"' or spaces: {msg_id!r}")
    return msg_id


def signature(secret: WebhookSecret, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """The raw HMAC-SHA256 over `{msg_id}.{timestamp}.{body}`."""
    return hmac.new(secret.key, f"{msg_id}.{timestamp}.".encode("ascii") + body, hashlib.sha256).digest()


def sign(secrets: Sequence[WebhookSecret], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64>` for each secret, in the order given, space-separated."""
    if not secrets:
        raise ValueError("signing needs at least one secret")
    check_msg_id(msg_id)
    if timestamp < 0:
        raise ValueError(f"a webhook timestamp is Unix seconds, not {timestamp}")
    return " ".join("v1," + base64.b64encode(signature(s, msg_id, timestamp, body)).decode("ascii")
                    for s in secrets)


def webhook_headers(secrets: Sequence[WebhookSecret], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of a signed delivery: the three Standard Webhooks ones and `Idempotency-Key` (same id)."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secrets, msg_id, timestamp, body),
        IDEMPOTENCY_HEADER: idempotency_key(msg_id),
    }


def verify(secrets: Sequence[WebhookSecret], headers: Mapping[str, str], body: bytes, now: float,
           tolerance_s: float = DEFAULT_TOLERANCE_S) -> Verified:
    """The delivery's id and timestamp when one of its `v1` signatures matches one of `secrets` and its
    timestamp is within `tolerance_s` of `now`; otherwise the VerificationError subclass that names why.

    Header names are matched case-insensitively. Signatures of other schemes (`v1a`, ...) and malformed
    entries are skipped, as the spec asks of a receiver that does not know them."""
    if not secrets:
        raise ValueError("verifying needs at least one secret")
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER) if not lower.get(h, "").strip()]
    if missing:
        raise MissingHeader(f"missing header{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    msg_id, ts_text, sig_text = (lower[h].strip() for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not _MSG_ID.fullmatch(msg_id):
        raise BadMessageId(f"{ID_HEADER} must be visible ASCII without '.', '\"' or spaces, at most 256 long")
    if not _TIMESTAMP.fullmatch(ts_text):
        raise BadTimestamp(f"{TIMESTAMP_HEADER} must be whole Unix seconds, got {ts_text[:40]!r}")
    timestamp = int(ts_text)
    if timestamp < now - tolerance_s:
        raise TimestampTooOld(f"{TIMESTAMP_HEADER} {timestamp} is {now - timestamp:.0f} s old "
                              f"(tolerance {tolerance_s:g} s)")
    if timestamp > now + tolerance_s:
        raise TimestampTooNew(f"{TIMESTAMP_HEADER} {timestamp} is {timestamp - now:.0f} s ahead "
                              f"(tolerance {tolerance_s:g} s)")
    offered = [_decode_v1(entry) for entry in sig_text.split(" ")]
    for secret in secrets:
        expected = signature(secret, msg_id, timestamp, body)
        # compare_digest on every candidate: the time taken says nothing about how close a forgery came
        if any(candidate is not None and hmac.compare_digest(expected, candidate) for candidate in offered):
            return Verified(msg_id, timestamp)
    raise NoMatchingSignature(f"no v1 signature in {SIGNATURE_HEADER} matches the body with a known secret")


def _decode_v1(entry: str) -> bytes | None:
    version, sep, encoded = entry.partition(",")
    if version != "v1" or not sep:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return None


def idempotency_key(msg_id: str) -> str:
    """`msg_id` as an RFC 8941 sf-string: quoted, with `\\` and `"` escaped; only visible ASCII and space."""
    if not all(0x20 <= ord(c) <= 0x7E for c in msg_id):
        raise ValueError(f"an RFC 8941 string holds only printable ASCII: {msg_id!r}")
    return '"' + msg_id.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_idempotency_key(value: str) -> str:
    """The string inside an `Idempotency-Key` header (RFC 8941 String item, section 4.2.5); ValueError for
    anything else, including a bare token or parameters."""
    text = value.strip(" ")
    if len(text) < 2 or text[0] != '"':
        raise ValueError("Idempotency-Key must be a quoted string, e.g. \"8e03978e-40d5\"")
    out: list[str] = []
    i = 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in '"\\':
                raise ValueError("Idempotency-Key: a backslash escapes only '\"' or '\\'")
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            if i != len(text) - 1:
                raise ValueError("Idempotency-Key: nothing may follow the closing quote")
            return "".join(out)
        if not 0x20 <= ord(c) <= 0x7E:
            raise ValueError("Idempotency-Key holds only printable ASCII")
        out.append(c)
        i += 1
    raise ValueError("Idempotency-Key: the closing quote is missing")
