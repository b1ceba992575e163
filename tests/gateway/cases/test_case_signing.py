"""Standard Webhooks signatures: the spec's known answer, agreement with the `standardwebhooks` package (an
independent implementation) in both directions, every refusal named, secret rotation, Idempotency-Key."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.cases.signing import (
    BadMessageId,
    BadTimestamp,
    MissingHeader,
    NoMatchingSignature,
    SecretError,
    TimestampTooNew,
    TimestampTooOld,
    VerificationError,
    WebhookSecret,
    idempotency_key,
    parse_idempotency_key,
    sign,
    verify,
    webhook_headers,
)

# The known answer of standard-webhooks' own library tests (libraries/python/tests/test_webhooks.py).
KAT_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KAT_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
KAT_TS = 1614265330
KAT_BODY = b'{"test": 2432232314}'
KAT_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# The same library's "invalid signature": the last base64 digit changed.
KAT_FORGED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="

KAT = WebhookSecret.parse(KAT_SECRET)
OTHER = WebhookSecret.parse("whsec_" + base64.b64encode(b"another secret, 32 bytes long..!").decode())


def kat_headers(**override: str | None) -> dict[str, str]:
    h = {"webhook-id": KAT_ID, "webhook-timestamp": str(KAT_TS), "webhook-signature": KAT_SIGNATURE}
    for k, v in override.items():
        name = "webhook-" + k
        if v is None:
            h.pop(name)
        else:
            h[name] = v
    return h


def test_the_spec_known_answer() -> None:
    assert sign([KAT], KAT_ID, KAT_TS, KAT_BODY) == KAT_SIGNATURE
    assert verify([KAT], kat_headers(), KAT_BODY, now=KAT_TS).msg_id == KAT_ID


@pytest.mark.parametrize(("text", "message"), [
    ("", "must not be empty"),
    ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with 'whsec_'"),
    ("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with 'whsec_'"),
    ("whsec_MfKQ9r8GKYqrTwjUPD8IL PZIo2LaLaSw", "is not base64"),
    ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_", "is not base64"),
    ("whsec_c2hvcnQ=", "decodes to 5"),
    ("whsec_" + base64.b64encode(b"x" * 23).decode(), "decodes to 23"),
    ("whsec_" + base64.b64encode(b"x" * 65).decode(), "decodes to 65"),
    ("whsec_", "decodes to 0"),
    ("whsec_QUFBQUFB=", "is not base64"),
])
def test_a_secret_that_is_not_whsec_base64_is_refused(text: str, message: str) -> None:
    with pytest.raises(SecretError, match=message) as info:
        WebhookSecret.parse(text)
    assert "MfKQ9r8GKYqrTwjUPD8IL" not in str(info.value)  # the message never repeats the secret


@pytest.mark.parametrize(("text", "key_len"), [
    (KAT_SECRET, 24),
    ("  " + KAT_SECRET + "\n", 24),                                       # pasted with a newline
    ("whsec_" + base64.b64encode(b"k" * 32).decode().rstrip("="), 32),    # unpadded base64
    ("whsec_" + base64.b64encode(b"k" * 64).decode(), 64),
])
def test_a_whsec_secret_is_read(text: str, key_len: int) -> None:
    secret = WebhookSecret.parse(text)
    assert len(secret.key) == key_len
    assert WebhookSecret.parse(secret.text()) == secret
    assert "key" not in repr(secret)


@pytest.mark.parametrize(("headers", "now", "error", "message"), [
    (kat_headers(id=None), KAT_TS, MissingHeader, "webhook-id"),
    (kat_headers(timestamp=None), KAT_TS, MissingHeader, "webhook-timestamp"),
    (kat_headers(signature=None), KAT_TS, MissingHeader, "webhook-signature"),
    ({}, KAT_TS, MissingHeader, "webhook-id, webhook-timestamp, webhook-signature"),
    (kat_headers(signature="  "), KAT_TS, MissingHeader, "webhook-signature"),
    (kat_headers(id="msg.1"), KAT_TS, BadMessageId, "without '.'"),
    (kat_headers(timestamp="hello"), KAT_TS, BadTimestamp, "'hello'"),
    (kat_headers(timestamp="1614265330.5"), KAT_TS, BadTimestamp, "whole Unix seconds"),
    (kat_headers(timestamp="-1614265330"), KAT_TS, BadTimestamp, "whole Unix seconds"),
    (kat_headers(), KAT_TS + 301, TimestampTooOld, "301 s old"),
    (kat_headers(), KAT_TS - 301, TimestampTooNew, "301 s ahead"),
    (kat_headers(signature=KAT_FORGED), KAT_TS, NoMatchingSignature, "no v1 signature"),
    (kat_headers(signature="v1a," + KAT_SIGNATURE[3:]), KAT_TS, NoMatchingSignature, "no v1 signature"),
    (kat_headers(signature="v2," + KAT_SIGNATURE[3:]), KAT_TS, NoMatchingSignature, "no v1 signature"),
    (kat_headers(signature="v1,not*base64 v1 garbage"), KAT_TS, NoMatchingSignature, "no v1 signature"),
    (kat_headers(signature=KAT_SIGNATURE[:-2] + "="), KAT_TS, NoMatchingSignature, "no v1 signature"),
    (kat_headers(id="msg_p5jXN8AQM9LWM0D4loKWxJeK"), KAT_TS, NoMatchingSignature, "no v1 signature"),
    (kat_headers(timestamp=str(KAT_TS + 1)), KAT_TS, NoMatchingSignature, "no v1 signature"),
])
def test_a_delivery_that_proves_nothing_is_refused_by_name(headers: dict[str, str], now: int,
                                                           error: type[VerificationError], message: str) -> None:
    with pytest.raises(error, match=message):
        verify([KAT], headers, KAT_BODY, now=now)


@pytest.mark.parametrize("now", [KAT_TS - 300, KAT_TS, KAT_TS + 300, KAT_TS + 299.9])
def test_the_tolerance_is_inclusive(now: float) -> None:
    assert verify([KAT], kat_headers(), KAT_BODY, now=now).timestamp == KAT_TS


@pytest.mark.parametrize(("secrets", "body"), [
    ([OTHER], KAT_BODY),                     # another party's secret
    ([KAT], b'{"test": 2432232315}'),        # the body altered
    ([KAT], KAT_BODY + b" "),                # one trailing space
    ([KAT], KAT_BODY[:-1]),
])
def test_a_forgery_or_an_alteration_is_refused(secrets: list[WebhookSecret], body: bytes) -> None:
    with pytest.raises(NoMatchingSignature):
        verify(secrets, kat_headers(), body, now=KAT_TS)


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in kat_headers().items()}
    assert "Webhook-Signature" in headers
    assert verify([KAT], headers, KAT_BODY, now=KAT_TS).msg_id == KAT_ID


def test_one_matching_signature_among_others_is_enough() -> None:
    # the library's multi-signature case: unknown versions and wrong v1 entries around the good one
    sigs = ["v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            KAT_SIGNATURE, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="]
    assert verify([KAT], kat_headers(signature=" ".join(sigs)), KAT_BODY, now=KAT_TS).msg_id == KAT_ID


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sign([], "m", 1, b""), "at least one secret"),
    (lambda: sign([KAT], "a.b", 1, b""), "without '.'"),
    (lambda: sign([KAT], "", 1, b""), "1-256"),
    (lambda: sign([KAT], "x" * 257, 1, b""), "1-256"),
    (lambda: sign([KAT], "m", -1, b""), "Unix seconds"),
    (lambda: verify([], kat_headers(), KAT_BODY, now=KAT_TS), "at least one secret"),
])
def test_signing_refuses_what_could_not_be_verified(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()


# Both implementations, both directions: the id alphabet of the spec's examples, UTF-8 bodies (the package
# signs text).
ids = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:"),
              min_size=1, max_size=64)
timestamps = st.integers(min_value=0, max_value=4_102_444_800)
key_bytes = st.binary(min_size=24, max_size=64)


@settings(max_examples=150, deadline=None)
@given(key=key_bytes, msg_id=ids, ts=timestamps, text=st.text(max_size=300))
def test_ours_and_the_standardwebhooks_package_sign_alike(key: bytes, msg_id: str, ts: int, text: str) -> None:
    secret = WebhookSecret(key)
    theirs = Webhook(secret.text()).sign(msg_id, datetime.fromtimestamp(ts, UTC), text)
    assert sign([secret], msg_id, ts, text.encode()) == theirs


@pytest.mark.parametrize("body", [KAT_BODY, "{\"案源编号\": \"AJ2026000001\"}".encode(), b""])
def test_the_package_verifies_ours_now(body: bytes) -> None:
    # the package checks against the wall clock, so sign at it: no assertion about time is made
    ts = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([KAT], "task_1-city", ts, body)
    assert Webhook(KAT_SECRET).verify(body.decode(), headers, json_parse=False) is None
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER.text()).verify(body.decode(), headers, json_parse=False)


@pytest.mark.parametrize("body", ['{"test": 2432232314}', "{\"违法行为\": \"占道经营\"}", ""])
def test_ours_verifies_the_package(body: str) -> None:
    ts = datetime.fromtimestamp(KAT_TS + 7, UTC)
    headers = {"webhook-id": KAT_ID, "webhook-timestamp": str(KAT_TS + 7),
               "webhook-signature": Webhook(KAT_SECRET).sign(KAT_ID, ts, body)}
    assert verify([KAT], headers, body.encode(), now=KAT_TS).timestamp == KAT_TS + 7


def _flip(data: st.DataObject, raw: bytes) -> bytes:
    i = data.draw(st.integers(0, len(raw) - 1))
    return raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1:]


@settings(max_examples=200, deadline=None)
@given(key=key_bytes, msg_id=ids, ts=timestamps, body=st.binary(max_size=500), data=st.data())
def test_any_delivery_verifies_and_any_flipped_byte_fails(key: bytes, msg_id: str, ts: int, body: bytes,
                                                          data: st.DataObject) -> None:
    secret = WebhookSecret(key)
    headers = webhook_headers([secret], msg_id, ts, body)
    assert verify([secret], headers, body, now=ts).msg_id == msg_id
    part = data.draw(st.sampled_from(["body", "id", "timestamp", "signature", "key"]))
    if part == "body":
        body = _flip(data, body) if body else b"x"  # an empty body signed, then one byte arrives
    elif part == "key":
        secret = WebhookSecret(_flip(data, key))
    elif part == "signature":
        # flipped in the HMAC bytes: base64 text can change in unused bits without changing them
        raw = base64.b64decode(headers["webhook-signature"].removeprefix("v1,"))
        headers["webhook-signature"] = "v1," + base64.b64encode(_flip(data, raw)).decode()
    else:
        name = "webhook-" + part
        value = headers[name]
        i = data.draw(st.integers(0, len(value) - 1))
        swapped = data.draw(st.sampled_from([c for c in "aZ19_" if c != value[i]]))
        headers[name] = value[:i] + swapped + value[i + 1:]
    stamp = headers["webhook-timestamp"]
    with pytest.raises(VerificationError):
        # at the altered timestamp's own time, so the signature is what fails (or the timestamp's form)
        verify([secret], headers, body, now=int(stamp) if stamp.isdigit() else ts)


@settings(max_examples=50, deadline=None)
@given(new=key_bytes, old=key_bytes, msg_id=ids, ts=timestamps, body=st.binary(max_size=200))
def test_while_a_secret_rotates_either_one_verifies(new: bytes, old: bytes, msg_id: str, ts: int,
                                                    body: bytes) -> None:
    a, b = WebhookSecret(new), WebhookSecret(old)
    value = sign([a, b], msg_id, ts, body)
    assert value == sign([a], msg_id, ts, body) + " " + sign([b], msg_id, ts, body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": value}
    for receiver in ([a], [b], [b, a], [OTHER, a]):
        assert verify(receiver, headers, body, now=ts).msg_id == msg_id
    if new != KAT.key and old != KAT.key:
        with pytest.raises(NoMatchingSignature):
            verify([KAT], headers, body, now=ts)


def test_the_package_verifies_a_rotating_signature_with_either_secret() -> None:
    ts = int(datetime.now(UTC).timestamp())
    body = '{"task": 1}'
    headers = webhook_headers([OTHER, KAT], "task_1", ts, body.encode())
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (OTHER, KAT):
        Webhook(secret.text()).verify(body, headers, json_parse=False)


def test_a_delivery_carries_the_idempotency_key_of_its_id() -> None:
    headers = webhook_headers([KAT], KAT_ID, KAT_TS, KAT_BODY)
    assert headers == {"webhook-id": KAT_ID, "webhook-timestamp": str(KAT_TS), "webhook-signature": KAT_SIGNATURE,
                       "Idempotency-Key": f'"{KAT_ID}"'}
    assert parse_idempotency_key(headers["Idempotency-Key"]) == KAT_ID


@pytest.mark.parametrize(("value", "header"), [
    ("8e03978e-40d5-43e8-bc93-6894a57f9324", '"8e03978e-40d5-43e8-bc93-6894a57f9324"'),
    ('say "hi"', r'"say \"hi\""'),
    ("back\\slash", r'"back\\slash"'),
    ("", '""'),
    (" spaced ", '" spaced "'),
])
def test_idempotency_key_is_an_rfc8941_string(value: str, header: str) -> None:
    assert idempotency_key(value) == header
    assert parse_idempotency_key(header) == value
    assert parse_idempotency_key(f"  {header} ") == value


@pytest.mark.parametrize(("header", "message"), [
    ("8e03978e", "quoted string"),
    ('"open', "closing quote is missing"),
    ('"a"b', "nothing may follow"),
    ('"a";p=1', "nothing may follow"),
    (r'"a\nb"', "backslash escapes only"),
    ('"a\tb"', "printable ASCII"),
    ('"é"', "printable ASCII"),
    ("", "quoted string"),
])
def test_an_idempotency_key_that_is_no_string_item_is_refused(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_idempotency_key(header)


@pytest.mark.parametrize("value", ["é", "a\nb", "\x7f"])
def test_an_idempotency_key_holds_only_printable_ascii(value: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        idempotency_key(value)
