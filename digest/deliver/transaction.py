"""One SMTP transaction (MAIL, RCPT, DATA) on a connection that is up, and what it said.

Shared by the pool (digests) and one-off mails; knows nothing of queues or retries.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

Outcome = Literal["sent", "bounced", "failed", "deferred"]


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
    in its return value, not as an exception), and the message is not scanned for its size:
    the bytes come CRLF-normalised, so their length is the SIZE.
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
            await _data(client, data)
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


_LINE_END = re.compile(rb"\r\n|\n|\r")


def wire_form(data: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 4.5.2): CRLF line ends, a dot doubled at the
    start of a line, CRLF at the end; what aiosmtplib's `data` does with two regular
    expressions over the whole message on every send (~1 ms for a 40 KB digest, a fifth of its
    CPU in bench/send.py). A digest comes out of `build_mime` with CRLF line ends already, which
    three C-level counts show; once they are CRLF, every line but the first starts right after
    an LF, so doubling the dots is one `replace`."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:
        data = _LINE_END.sub(b"\r\n", data)
    data = data.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data if data.endswith(b"\r\n") else data + b"\r\n"


async def _data(client: aiosmtplib.SMTP, data: bytes) -> None:
    """DATA, then the message in its wire form and the final dot, through the client's public
    command and protocol calls: `SMTP.data` would rewrite bytes that need no rewriting."""
    start = await client.execute_command(b"DATA")
    if start.code != aiosmtplib.SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        protocol.write(wire_form(data))
        protocol.write(b".\r\n")
        done = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if done.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(done.code, done.message)


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
