"""The SMTP pool against real aiosmtpd servers: outcomes, retries, envelope safety, login, rate."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given
from hypothesis import strategies as st

from digest.deliver.smtp import SendResult, SmtpPool, envelope_address
from digest.deliver.transaction import wire_form
from digest.errors import PermanentDeliveryError
from tests.delivery_support import Mail, mail
from tests.smtpd import PortZeroController, RecordingHandler, SmtpServer, left_open


def send_all(settings: Any, mails: list[Mail]) -> list[SendResult[Mail]]:
    async def main() -> list[SendResult[Mail]]:
        results: list[SendResult[Mail]] = []
        async with SmtpPool(settings, results.append) as pool:
            for item in mails:
                await pool.push(item)
        return results

    return asyncio.run(main())


@pytest.fixture
def smtp(make_settings):  # type: ignore[no-untyped-def]
    def build(port: int, **smtp: Any) -> Any:
        return make_settings(smtp={"port": port, "retry_backoff": 0.005, "timeout": 5, **smtp})

    return build


def test_every_message_goes_out_once_over_several_reused_connections(smtp) -> None:  # type: ignore[no-untyped-def]
    with SmtpServer() as server:
        results = send_all(
            smtp(server.port, concurrency=3), [mail(f"r{n}@example.org", n) for n in range(30)]
        )
    assert sorted(r.item.recipient for r in results) == sorted(
        f"r{n}@example.org" for n in range(30)
    )
    assert {(r.outcome, r.attempts) for r in results} == {("sent", 1)}
    received = sorted(m.rcpt_tos[0] for m in server.messages)
    assert received == sorted(f"r{n}@example.org" for n in range(30))
    assert all(m.mail_from == "digest@example.org" for m in server.messages)


def test_lines_starting_with_a_dot_and_bare_line_ends_arrive_as_written(smtp) -> None:  # type: ignore[no-untyped-def]
    body = b".first\r\nSubject: dots\r\n\r\n.\r\n..two\r\nbare\nend.\r\n.\r\n"
    with SmtpServer() as server:
        [result] = send_all(smtp(server.port), [Mail("r@example.org", body)])
    assert result.outcome == "sent"
    assert [m.data for m in server.messages] == [body.replace(b"bare\n", b"bare\r\n")]


@given(st.lists(st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b" x", b"=2E"])).map(b"".join))
def test_the_wire_form_is_what_aiosmtplib_would_send(data: bytes) -> None:
    """DATA skips aiosmtplib's rewriting when nothing needs it: the bytes on the wire stay
    exactly those its own `data` would have sent, for every mix of dots and line ends."""
    assert wire_form(data) == PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data))


def test_transient_replies_and_dropped_connections_are_retried_until_accepted(smtp) -> None:  # type: ignore[no-untyped-def]
    tries: Counter[str] = Counter()

    def drop(envelope: Any) -> bool:
        # Called first for every DATA: count the tries, cut the first try of every fifth.
        n = int(envelope.rcpt_tos[0][1:].split("@")[0])
        tries[envelope.rcpt_tos[0]] += 1
        return n % 5 == 0 and tries[envelope.rcpt_tos[0]] == 1

    def fault(envelope: Any) -> str | None:
        n, seen = int(envelope.rcpt_tos[0][1:].split("@")[0]), tries[envelope.rcpt_tos[0]]
        if n % 3 == 0 and seen <= 2:
            return "451 4.3.0 try later"
        if n % 4 == 0 and seen == 1:
            return "421 4.7.0 closing, busy"
        return None

    handler = RecordingHandler(fault=fault, drop=drop)
    with SmtpServer(handler) as server:
        settings = smtp(server.port, concurrency=4, max_attempts=4)
        results = send_all(settings, [mail(f"r{n}@example.org") for n in range(25)])
    assert {r.outcome for r in results} == {"sent"}
    attempts = {r.item.recipient: r.attempts for r in results}
    assert attempts["r3@example.org"] == 3 and attempts["r4@example.org"] == 2
    assert attempts["r5@example.org"] == 2 and attempts["r1@example.org"] == 1
    received = [m.rcpt_tos[0] for m in server.messages]
    assert sorted(received) == sorted(f"r{n}@example.org" for n in range(25))  # nothing twice


def test_a_recipient_refused_with_5xx_bounces_without_retry_and_others_are_sent(smtp) -> None:  # type: ignore[no-untyped-def]
    handler = RecordingHandler(
        rcpt_fault=lambda address: "550 5.1.1 no such user" if address.startswith("gone") else None
    )
    with SmtpServer(handler) as server:
        results = send_all(smtp(server.port), [mail("gone@example.org"), mail("ada@example.org")])
    by_recipient = {r.item.recipient: r for r in results}
    assert by_recipient["gone@example.org"].outcome == "bounced"
    assert by_recipient["gone@example.org"].attempts == 1
    assert "550" in (by_recipient["gone@example.org"].error or "")
    assert by_recipient["ada@example.org"].outcome == "sent"
    assert [m.rcpt_tos for m in server.messages] == [["ada@example.org"]]


def test_a_message_refused_with_5xx_at_data_fails_and_4xx_forever_defers(smtp) -> None:  # type: ignore[no-untyped-def]
    def fault(envelope: Any) -> str | None:
        if envelope.rcpt_tos == ["spam@example.org"]:
            return "554 5.7.1 rejected as spam"
        if envelope.rcpt_tos == ["busy@example.org"]:
            return "452 4.3.1 out of storage"
        return None

    with SmtpServer(RecordingHandler(fault=fault)) as server:
        results = send_all(
            smtp(server.port, max_attempts=3), [mail("spam@example.org"), mail("busy@example.org")]
        )
    by_recipient = {r.item.recipient: r for r in results}
    assert (
        by_recipient["spam@example.org"].outcome,
        by_recipient["spam@example.org"].attempts,
    ) == ("failed", 1)
    assert (
        by_recipient["busy@example.org"].outcome,
        by_recipient["busy@example.org"].attempts,
    ) == ("deferred", 3)
    assert "452" in (by_recipient["busy@example.org"].error or "")
    assert server.messages == []


def test_an_unreachable_server_defers_every_message(smtp) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = send_all(smtp(port, max_attempts=2), [mail("ada@example.org")])
    assert [(r.outcome, r.attempts) for r in results] == [("deferred", 2)]
    assert "connection" in (results[0].error or "")


def test_once_every_connection_failed_to_get_a_session_the_rest_is_deferred_untried(smtp) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = smtp(port, max_attempts=3, concurrency=2, retry_backoff=0.05)
    results = send_all(settings, [mail(f"r{n}@example.org") for n in range(50)])
    assert {r.outcome for r in results} == {"deferred"}
    tried = [r for r in results if r.attempts]
    assert 2 <= len(tried) <= 2 + 2  # a full round per connection, plus what was in flight
    untried = [r for r in results if not r.attempts]
    assert all("unreachable" in (r.error or "") for r in untried)


def test_the_session_check_starts_over_when_the_server_answers_again(smtp) -> None:  # type: ignore[no-untyped-def]
    # One connection, the server up: a message deferred by 4xx replies (a session was had)
    # never marks the server as down.
    handler = RecordingHandler(
        fault=lambda e: "451 4.3.0 later" if "r0@" in e.rcpt_tos[0] else None
    )
    with SmtpServer(handler) as server:
        settings = smtp(server.port, max_attempts=2, concurrency=1)
        results = send_all(settings, [mail(f"r{n}@example.org") for n in range(3)])
    outcomes = {r.item.recipient: r.outcome for r in results}
    assert outcomes == {
        "r0@example.org": "deferred",
        "r1@example.org": "sent",
        "r2@example.org": "sent",
    }


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.org\r\nRCPT TO:<victim@example.org>",
        "ada@example.org\nBcc: x@example.org",
        "not an address",
        "ada@",
    ],
)
def test_an_invalid_or_forged_recipient_never_reaches_the_envelope(smtp, address: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermanentDeliveryError):
        envelope_address(address, role="recipient")
    with SmtpServer() as server:
        results = send_all(
            smtp(server.port), [Mail(address, b"Subject: x\r\n\r\nx\r\n"), mail("ok@example.org")]
        )
    outcomes = {r.item.recipient: r.outcome for r in results}
    assert outcomes == {address: "failed", "ok@example.org": "sent"}
    assert [m.rcpt_tos for m in server.messages] == [["ok@example.org"]]


def test_a_forged_sender_address_is_refused_before_connecting(smtp, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(sender={"from_address": "digest@example.org\r\nRCPT TO:<x@y.org>"})
    with pytest.raises(PermanentDeliveryError, match="line break"):
        SmtpPool(settings, lambda result: None)


class _AuthServer(SmtpServer):
    def __init__(self, password: str) -> None:
        self.handler = RecordingHandler()

        def check(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = auth_data.login == b"digest" and auth_data.password == password.encode()
            return AuthResult(success=ok, handled=False)

        self.controller = PortZeroController(
            self.handler,
            hostname="127.0.0.1",
            port=0,
            authenticator=check,
            auth_require_tls=False,
        )


@pytest.mark.parametrize(("password", "outcome"), [("right", "sent"), ("wrong", "deferred")])
def test_login_uses_the_configured_secret_and_a_refused_login_defers(
    smtp, password: str, outcome: str
) -> None:  # type: ignore[no-untyped-def]
    with _AuthServer("right") as server:
        settings = smtp(server.port, username="digest", password=password, max_attempts=3)
        results = send_all(settings, [mail("ada@example.org")])
    assert [r.outcome for r in results] == [outcome]
    if outcome == "deferred":
        assert results[0].attempts == 1  # a 5xx to the login is not retried within the run
        assert "535" in (results[0].error or "")
    assert len(server.messages) == (1 if outcome == "sent" else 0)


def test_starttls_demanded_but_not_offered_sends_nothing_in_clear(smtp) -> None:  # type: ignore[no-untyped-def]
    with SmtpServer() as server:
        results = send_all(
            smtp(server.port, security="starttls", max_attempts=1), [mail("ada@example.org")]
        )
    assert [r.outcome for r in results] == ["deferred"]
    assert server.messages == []


def test_the_rate_cap_is_global_across_connections(smtp) -> None:  # type: ignore[no-untyped-def]
    with SmtpServer() as server:
        started = time.monotonic()
        send_all(
            smtp(server.port, concurrency=4, rate_per_second=20),
            [mail(f"r{n}@example.org") for n in range(9)],
        )
        elapsed = time.monotonic() - started
    # Nine sends at 20/s need eight 50 ms gaps whatever the number of connections.
    assert elapsed >= 8 / 20
    assert len(server.messages) == 9


def test_when_results_cannot_be_recorded_the_pool_stops_sending_and_says_why(smtp) -> None:  # type: ignore[no-untyped-def]
    recorded: list[SendResult[Mail]] = []

    def record(result: SendResult[Mail]) -> None:
        if len(recorded) == 2:
            raise RuntimeError("database is gone")
        recorded.append(result)

    async def main(settings: Any) -> None:
        async with SmtpPool(settings, record) as pool:
            for n in range(40):
                await pool.push(mail(f"r{n}@example.org", n))

    with SmtpServer() as server, pytest.raises(RuntimeError, match="database is gone"):
        asyncio.run(main(smtp(server.port, concurrency=2)))
    # Only what was already in flight went out; the rest stays claimed for the next run.
    assert len(server.messages) <= 2 + 2


def test_a_server_that_stops_answering_times_out_and_the_message_is_retried(smtp) -> None:  # type: ignore[no-untyped-def]
    tries: Counter[str] = Counter()

    class StallFirstTry(RecordingHandler):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            tries[envelope.rcpt_tos[0]] += 1
            if tries[envelope.rcpt_tos[0]] == 1:
                await asyncio.sleep(30)  # never answers in time; cancelled when the client hangs up
            return await super().handle_DATA(server, session, envelope)

    with SmtpServer(StallFirstTry()) as server:
        results = send_all(smtp(server.port, timeout=0.5, concurrency=2), [mail("ada@example.org")])
    assert [(r.outcome, r.attempts) for r in results] == [("sent", 2)]
    assert [m.rcpt_tos for m in server.messages] == [["ada@example.org"]]


@dataclass
class QuitHeld(RecordingHandler):
    """Holds every answer to QUIT until `release`: the client is still saying goodbye."""

    quitting: threading.Event = field(default_factory=threading.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quitting.set()
        await self._released.wait()
        return "221 Bye"

    def release(self, server: SmtpServer) -> None:
        server.controller.loop.call_soon_threadsafe(self._released.set)


def test_a_pool_cancelled_while_it_says_quit_still_closes_its_connection(smtp) -> None:  # type: ignore[no-untyped-def]
    handler = QuitHeld()

    async def main(settings: Any) -> list[SendResult[Mail]]:
        results: list[SendResult[Mail]] = []

        async def run() -> None:
            async with SmtpPool(settings, results.append) as pool:
                await pool.push(mail("ada@example.org"))

        task = asyncio.create_task(run())
        assert await asyncio.to_thread(handler.quitting.wait, 60)
        task.cancel()  # e.g. the caller gave up on the run while the pool was closing
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return results

    with SmtpServer(handler) as server:
        settings = smtp(server.port, concurrency=1)
        try:
            results, unclosed = left_open(lambda: asyncio.run(main(settings)))
        finally:
            handler.release(server)
    assert [r.outcome for r in results] == ["sent"]
    assert unclosed == []
