"""One SMTP transaction (MAIL, RCPT, DATA) on a connection that is up, and what it said.

Shared by the pool (digests) and one-off mails; knows nothing of queues or retries.
"""

from __future__ import annotations

import contextlib
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
            await client.data(data)
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
