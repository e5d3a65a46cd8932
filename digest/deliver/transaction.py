"""One SMTP transaction (MAIL, RCPT, DATA) on a connection that is up, and what it said.

Shared by the pool (digests) and one-off mails; knows nothing of queues or retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

Outcome = Literal["sent", "bounced", "failed", "deferred"]


def data_payload(data: bytes) -> bytes:
    """What follows DATA on the wire: CRLF line ends, every line starting with a dot given a
    second one (RFC 5321 4.5.2), and the closing `.` line.

    aiosmtplib's own `data()` rewrites the line ends and the dots with two regular expressions
    over the whole message; bench/send.py: 0.9 ms of CPU per 40 KB digest, half of what the
    pool spends on a message. Our messages are CRLF already (counting says so in a few
    microseconds), so only the dots are doubled; anything else is normalised as aiosmtplib
    would.
    """
    crlf = data.count(b"\r\n")
    if crlf != data.count(b"\n") or crlf != data.count(b"\r") or not data.endswith(b"\r\n"):
        data = normalize_message_line_endings(data)
    data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data + b".\r\n"


async def send_data(client: aiosmtplib.SMTP, data: bytes) -> None:
    """DATA, then the message as `data_payload` puts it; SMTPDataError unless 354 then 250.

    Like aiosmtplib's `data()`, a lost connection or a timeout closes the client and raises."""
    payload = data_payload(data)
    start = await client.execute_command(b"DATA")
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        # Nothing runs between the write and the read: the answer cannot arrive unawaited.
        protocol.write(payload)
        response = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one SMTP transaction said: `outcome` None means worth retrying."""

    outcome: Outcome | None
    error: str | None = None
    reconnect: bool = False


async def transact(
    client: aiosmtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes
) -> dict[str, Attempt]:
    """One MAIL/RCPT/DATA transaction, step by step; the verdict per recipient.

    Done by hand rather than through `sendmail`: each RCPT answer is judged on its own, so a
    partial refusal is simply some recipients refused (aiosmtplib's `sendmail` would report it
    in its return value, not as an exception), and the message is not scanned again and again:
    the bytes come CRLF-normalised, so their length is the SIZE, and `send_data` only doubles
    the dots.
    """
    verdicts: dict[str, Attempt] = {}
    accepted: list[str] = []
    try:
        try:
            options = [f"SIZE={len(data)}"] if client.supports_extension("size") else []
            await client.mail(sender, options=options)
            for recipient in recipients:
                try:
                    await client.rcpt(recipient)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    verdicts[recipient] = _refusal(exc.code, exc.message)
                else:
                    accepted.append(recipient)
            if not accepted:
                await _reset(client)
                return verdicts
            await send_data(client, data)
        except aiosmtplib.SMTPResponseException:
            await _reset(client)  # leave the session clean for the next message
            raise
    except aiosmtplib.SMTPSenderRefused as exc:
        return dict.fromkeys(recipients, session_refusal(exc, "sender refused"))
    except aiosmtplib.SMTPDataError as exc:
        if exc.code >= 500:
            verdict = Attempt("failed", f"message refused: {exc.code} {exc.message}")
        else:
            verdict = Attempt(None, f"{exc.code} {exc.message}", exc.code == 421)
        return {**dict.fromkeys(accepted, verdict), **verdicts}
    except aiosmtplib.SMTPResponseException as exc:
        return dict.fromkeys(recipients, session_refusal(exc, "server refused"))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return dict.fromkeys(recipients, lost(exc))
    return {**dict.fromkeys(accepted, Attempt("sent")), **verdicts}


async def _reset(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
        await client.rset()


def _refusal(code: int, message: str) -> Attempt:
    if code >= 500:
        return Attempt("bounced", f"recipient refused: {code} {message}")
    return Attempt(None, f"recipient deferred: {code} {message}")


def session_refusal(exc: aiosmtplib.SMTPResponseException, what: str) -> Attempt:
    # A 5xx to the session (login, sender) is about our configuration, not this message:
    # stop retrying now but keep the delivery claimable for the next run.
    if exc.code >= 500:
        return Attempt("deferred", f"{what}: {exc.code} {exc.message}", True)
    return Attempt(None, f"{what}: {exc.code} {exc.message}", True)


def lost(exc: BaseException) -> Attempt:
    kind = "timeout" if isinstance(exc, TimeoutError) else "connection lost"
    return Attempt(None, f"{kind}: {exc or type(exc).__name__}", True)
