"""One-off mails sent the moment a reader acts (confirmation, notices): no queue, no ledger.

The caller is a web request: one connection, one attempt, and an exception it can turn into a
page. Retrying is the caller's business (the reader can ask again); a digest goes through the
pool and the ledger instead.
"""

from __future__ import annotations

from digest.deliver.dkim import DkimSigner
from digest.deliver.message import OutgoingMessage
from digest.deliver.smtp import Attempt, connect_once, envelope_address, transact
from digest.errors import PermanentDeliveryError, TransientDeliveryError
from digest.settings import Settings


async def send_now(settings: Settings, message: OutgoingMessage) -> None:
    """Hand `message` to the SMTP server, or raise.

    TransientDeliveryError: connection, timeout, 4xx, or the server refused the session (worth
    trying again later). PermanentDeliveryError: the address is invalid or the server refused
    this recipient or message for good (5xx).
    """
    sender = envelope_address(settings.sender.from_address, role="sender")
    recipient = envelope_address(message.recipient, role="recipient")
    signer = DkimSigner.from_settings(settings.sender)
    data = signer.sign(message.data) if signer is not None else message.data
    async with connect_once(settings.smtp) as client:
        if isinstance(client, Attempt):
            verdict = client
        else:
            verdict = (await transact(client, sender, [recipient], data))[recipient]
    if verdict.outcome == "sent":
        return
    error = verdict.error or "not accepted"
    if verdict.outcome in ("bounced", "failed"):
        raise PermanentDeliveryError(f"mail to {recipient} refused: {error}")
    raise TransientDeliveryError(f"mail to {recipient} not sent, try again later: {error}")
