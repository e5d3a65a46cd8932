"""Signed links: bound to one purpose, expiring, rotating keys, never carrying the address."""

from __future__ import annotations

import base64
import time

import pytest

from digest.app.tokens import Purpose, Signer
from digest.errors import ConfigError, TokenError


def test_a_token_round_trips_to_the_opaque_id() -> None:
    signer = Signer(["key-one"])
    token = signer.sign(Purpose.UNSUBSCRIBE, "opaque-id-123")
    assert signer.verify(Purpose.UNSUBSCRIBE, token) == "opaque-id-123"


@pytest.mark.parametrize(
    ("signed_for", "used_for"),
    [(a, b) for a in Purpose for b in Purpose if a != b],
)
def test_a_token_is_useless_for_another_purpose(signed_for: Purpose, used_for: Purpose) -> None:
    signer = Signer(["key-one"])
    token = signer.sign(signed_for, "abc")
    with pytest.raises(TokenError) as excinfo:
        signer.verify(used_for, token)
    assert not excinfo.value.expired


def test_tampering_is_detected() -> None:
    signer = Signer(["key-one"])
    token = signer.sign(Purpose.CONFIRM, "abc")
    _payload, rest = token.split(".", 1)
    forged = base64.urlsafe_b64encode(b'"xyz"').decode().rstrip("=") + "." + rest
    with pytest.raises(TokenError):
        signer.verify(Purpose.CONFIRM, forged)
    with pytest.raises(TokenError):
        signer.verify(Purpose.CONFIRM, token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])


def test_expired_tokens_say_so() -> None:
    signer = Signer(["key-one"])
    token = signer.sign(Purpose.CONFIRM, "abc")
    time.sleep(1.1)
    with pytest.raises(TokenError) as excinfo:
        signer.verify(Purpose.CONFIRM, token, max_age=0)
    assert excinfo.value.expired


def test_old_keys_keep_verifying_after_rotation_and_new_tokens_use_the_newest() -> None:
    old = Signer(["old-key"])
    token = old.sign(Purpose.MANAGE, "abc")
    rotated = Signer(["new-key", "old-key"])
    assert rotated.verify(Purpose.MANAGE, token) == "abc"
    fresh = rotated.sign(Purpose.MANAGE, "abc")
    assert Signer(["new-key"]).verify(Purpose.MANAGE, fresh) == "abc"
    with pytest.raises(TokenError):
        Signer(["new-key"]).verify(Purpose.MANAGE, token)


def test_the_payload_never_contains_an_address() -> None:
    token = Signer(["k"]).sign(Purpose.UNSUBSCRIBE, "Zm9v-opaque")
    decoded = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    assert b"@" not in decoded


def test_no_secret_key_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"\[site\] secret_key"):
        Signer([])


@pytest.mark.parametrize("public_id", ["opaque-id-123", "a" * 80, 'é ✓ "quoted"', ""])
def test_signing_gives_exactly_the_itsdangerous_token(
    monkeypatch: pytest.MonkeyPatch, public_id: str
) -> None:
    """Signer.sign reuses one id's payload across purposes: the tokens stay what
    URLSafeTimedSerializer.dumps gives (compressed payloads included), for every purpose."""
    import types

    import itsdangerous.timed
    from itsdangerous import URLSafeTimedSerializer

    clock = types.SimpleNamespace(time=lambda: 1_764_400_000.0)
    monkeypatch.setattr(itsdangerous.timed, "time", clock)
    signer = Signer(["new-key", "old-key"])
    for _ in range(2):  # the second time from the cached payload
        for purpose in Purpose:
            reference = URLSafeTimedSerializer(
                ["old-key", "new-key"], salt=f"papers-digest/{purpose.value}"
            ).dumps(public_id)
            token = signer.sign(purpose, public_id)
            assert token == reference
            assert signer.verify(purpose, token, max_age=10**10) == public_id
    assert signer.sign(Purpose.MANAGE, "a" * 80).startswith(".")  # the compressed form


def _signed_at(
    monkeypatch: pytest.MonkeyPatch, when: float, signer: Signer, purpose: Purpose
) -> str:
    import types

    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: when))
    token = signer.sign(purpose, "reader-1")
    monkeypatch.undo()
    return token


TEN_YEARS_AGO = time.time() - 10 * 365 * 24 * 3600


def test_an_unsubscribe_link_never_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = Signer(["key-one"])
    token = _signed_at(monkeypatch, TEN_YEARS_AGO, signer, Purpose.UNSUBSCRIBE)
    assert signer.verify(Purpose.UNSUBSCRIBE, token) == "reader-1"


@pytest.mark.parametrize("purpose", [Purpose.CONFIRM, Purpose.MANAGE])
def test_other_links_still_expire(monkeypatch: pytest.MonkeyPatch, purpose: Purpose) -> None:
    signer = Signer(["key-one"])
    token = _signed_at(monkeypatch, TEN_YEARS_AGO, signer, purpose)
    with pytest.raises(TokenError) as excinfo:
        signer.verify(purpose, token)
    assert excinfo.value.expired


def test_dropping_the_key_retires_an_old_unsubscribe_link(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _signed_at(monkeypatch, TEN_YEARS_AGO, Signer(["old-key"]), Purpose.UNSUBSCRIBE)
    assert Signer(["new-key", "old-key"]).verify(Purpose.UNSUBSCRIBE, token) == "reader-1"
    with pytest.raises(TokenError) as excinfo:
        Signer(["new-key"]).verify(Purpose.UNSUBSCRIBE, token)
    assert not excinfo.value.expired
