"""Standard Webhooks signatures: the spec's test vector, rotation, tampering and staleness."""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal

import pytest

from clickpath.domain.signing import (
    SignatureError,
    canonical_request,
    headers,
    new_secret,
    sign,
    signature_header,
    verify,
    verify_request,
)

# The reference libraries' vector: standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py::test_sign_function.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_790_000_000


def test_published_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET.removeprefix("whsec_"), VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    verify(
        VECTOR_SECRET, headers([VECTOR_SECRET], VECTOR_ID, VECTOR_TS, VECTOR_BODY), VECTOR_BODY, now=VECTOR_TS
    )


def test_signature_is_the_definition() -> None:
    """Recomputed from the spec's words, independently of the module."""
    secret = new_secret()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1.%d.body \xff" % NOW, hashlib.sha256).digest()
    assert sign(secret, "msg_1", NOW, b"body \xff") == "v1," + base64.b64encode(digest).decode()


def test_new_secrets_are_24_random_bytes() -> None:
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 24


def test_headers() -> None:
    h = headers([VECTOR_SECRET], VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert h == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_rotation_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    h = headers([old, new], "msg_2", NOW, b"{}")
    assert h["webhook-signature"] == f"{sign(old, 'msg_2', NOW, b'{}')} {sign(new, 'msg_2', NOW, b'{}')}"
    verify(old, h, b"{}", now=NOW)
    verify(new, h, b"{}", now=NOW)
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(new_secret(), h, b"{}", now=NOW)


def test_header_names_are_case_insensitive() -> None:
    h = {k.title(): v for k, v in headers([VECTOR_SECRET], "msg_3", NOW, b"x").items()}
    verify(VECTOR_SECRET, h, b"x", now=NOW)


def test_tampered_body_id_or_timestamp_fails() -> None:
    h = headers([VECTOR_SECRET], "msg_4", NOW, b'{"amount":"10.00"}')
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(VECTOR_SECRET, h, b'{"amount":"99.00"}', now=NOW)
    with pytest.raises(SignatureError):
        verify(VECTOR_SECRET, {**h, "webhook-id": "msg_5"}, b'{"amount":"10.00"}', now=NOW)
    with pytest.raises(SignatureError):
        verify(VECTOR_SECRET, {**h, "webhook-timestamp": str(NOW + 1)}, b'{"amount":"10.00"}', now=NOW)


def test_old_and_future_timestamps_fail() -> None:
    h = headers([VECTOR_SECRET], "msg_6", NOW, b"x")
    verify(VECTOR_SECRET, h, b"x", now=NOW + 300)  # exactly at the tolerance
    with pytest.raises(SignatureError, match="too old"):
        verify(VECTOR_SECRET, h, b"x", now=NOW + 301)
    with pytest.raises(SignatureError, match="future"):
        verify(VECTOR_SECRET, h, b"x", now=NOW - 301)
    verify(VECTOR_SECRET, h, b"x", tolerance_s=3600, now=NOW + 3000)


def test_missing_or_malformed_headers_fail() -> None:
    h = headers([VECTOR_SECRET], "msg_7", NOW, b"x")
    for name in h:
        with pytest.raises(SignatureError, match="missing"):
            verify(VECTOR_SECRET, {k: v for k, v in h.items() if k != name}, b"x", now=NOW)
    with pytest.raises(SignatureError, match="not an integer"):
        verify(VECTOR_SECRET, {**h, "webhook-timestamp": "soon"}, b"x", now=NOW)
    other_versions = "v2," + h["webhook-signature"].removeprefix("v1,") + " v1a,xyz"
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(VECTOR_SECRET, {**h, "webhook-signature": other_versions}, b"x", now=NOW)


def test_bad_secrets_are_configuration_errors() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_not base64!", "m", NOW, b"")
    with pytest.raises(ValueError, match="empty"):
        sign("whsec_", "m", NOW, b"")
    with pytest.raises(ValueError, match="at least one"):
        signature_header([], "m", NOW, b"")


# --- issue 21, item 25: a postback signs its whole request, not only its (empty) body ---------


def _signed_get(amount: str, secret: str = VECTOR_SECRET, at: float = NOW):
    from datetime import UTC, datetime

    from clickpath.domain.endpoints import Endpoint
    from clickpath.sinks.delivery.render import render_postback, sample_postback

    e = Endpoint(endpoint_id="pb", affiliate_id="aff-1", events=["ftd"], secret=secret,
                 url="https://partner.example/aff/{sub1}/pb?cid={click_id}&amt={amount}&cur={currency}")
    p = sample_postback(e, "ftd").model_copy(update={"amount": Decimal(amount), "sub1": "a b/.."})
    return render_postback(e, p, "job-1", datetime.fromtimestamp(at, UTC))


def test_a_signed_get_postback_signs_its_conversion_data() -> None:
    a, b = _signed_get("50.00"), _signed_get("5000.00")
    assert a.headers["webhook-signature"] != b.headers["webhook-signature"]
    target = a.url.removeprefix("https://partner.example")
    verify_request(VECTOR_SECRET, a.headers, "GET", target, b"", now=NOW)
    verify_request(VECTOR_SECRET, a.headers, "GET", a.url, b"", now=NOW)  # the whole URL works too
    for tampered in (target.replace("50.00", "5000.00"), target.replace("cur=EUR", "cur=USD"),
                     target + "&extra=1", target.replace("/aff/", "/other/")):
        with pytest.raises(SignatureError):
            verify_request(VECTOR_SECRET, a.headers, "GET", tampered, b"", now=NOW)
    with pytest.raises(SignatureError):
        verify_request(VECTOR_SECRET, a.headers, "POST", target, b"", now=NOW)


@pytest.mark.parametrize(("sent", "received"), [
    ("/pb?a=%7Eb&c=d%20e", "/pb?a=~b&c=d+e"),  # re-encoded on the way
    ("/p%61th/pb?x", "/path/pb?x="),
])
def test_the_canonical_request_survives_re_encoding(sent, received) -> None:
    assert canonical_request("get", sent) == canonical_request("GET", received)


def test_parameter_order_is_signed() -> None:
    assert canonical_request("GET", "/pb?a=1&a=2") != canonical_request("GET", "/pb?a=2&a=1")


def test_the_documented_verification_example_verifies_a_signed_postback() -> None:
    """docs/delivery.md's standard-library example, run as printed, against what we send."""
    import re
    import time
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "delivery.md").read_text()
    section = doc.split("## Signed postbacks", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    scope: dict = {}
    exec(compile(code, "docs/delivery.md", "exec"), scope)  # noqa: S102 - our own documentation
    secret = new_secret()
    request = _signed_get("50.00", secret, at=time.time())
    target = request.url.removeprefix("https://partner.example")
    verify_postback = scope["verify_postback"]
    assert verify_postback(secret, request.headers, "GET", target)
    assert not verify_postback(secret, request.headers, "GET", target.replace("50.00", "1.00"))
    assert not verify_postback(new_secret(), request.headers, "GET", target)
    assert scope["canonical_request"]("GET", target) == canonical_request("GET", target)
