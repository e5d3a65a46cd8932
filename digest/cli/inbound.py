"""`digest inbound`: the SMTP server the operator's MTA forwards returning mail to."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime
from types import FrameType

import click

from digest.app.bounces import InboundMail, inbound_addresses
from digest.app.subscription import SignupDecision, Step
from digest.app.tokens import Purpose, Signer, digest_links
from digest.cli.app import AppContext, cli, pass_app, report_warnings
from digest.cli.logs import configure as configure_logging
from digest.cli.logs import event_line, log_format_option
from digest.errors import ListenError
from digest.inbound.server import InboundServer
from digest.settings import Settings
from digest.web.notices import Notice, Notices
from digest.web.pages import template_environment

READY_PREFIX = "inbound listening on "


class _Lines:
    """One line per message on stdout (flushed: one line per message even through a pipe), in
    the `--log-format` chosen."""

    def __init__(self, log_format: str = "text") -> None:
        self.log_format = log_format

    def __call__(self, line: str) -> None:
        click.echo(event_line(line, self.log_format, logger="digest.inbound"))
        sys.stdout.flush()


class SignupNotices:
    """The confirmation (or "already subscribed") mail a `subscribe` by mail calls for: the
    same notices, templates and signed links as a sign-up on the web."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._signer = Signer(settings.secret_keys)
        self._notices = Notices(settings, template_environment(settings))

    async def send_signup_notice(self, decision: SignupDecision, *, now: datetime) -> None:
        subscriber = decision.subscriber
        assert subscriber is not None
        if decision.step is Step.SEND_CONFIRMATION:
            token = self._signer.sign(Purpose.CONFIRM, subscriber.public_id)
            notice = Notice.CONFIRM
            context = {"confirm_url": f"{self._settings.site.base_url}/confirm/{token}"}
        else:
            notice = Notice.ALREADY_SUBSCRIBED
            links = digest_links(self._settings, self._signer, subscriber.public_id)
            context = {"manage_url": links.manage}
        await self._notices.send(
            notice, subscriber.email, context, now=now, subscriber_id=subscriber.id
        )


@cli.command("inbound")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=2525,
    show_default=True,
    help="Port to listen on (0 picks a free one and prints it).",
)
@log_format_option
@pass_app
def inbound_command(app: AppContext, host: str, port: int, log_format: str) -> None:
    """Receive mail that comes back: bounces, complaints, unsubscribe mail, commands by mail.

    Point the MTA's transport for the [bounces] domain, [sender] unsubscribe_mailto and
    [inbound] command_address at it (see README). One line per message; runs until Ctrl-C or
    SIGTERM.
    """
    echo = _Lines(log_format)
    if log_format == "json":
        report_warnings(False)
        configure_logging(log_format)
    settings = app.settings
    addresses = inbound_addresses(settings)
    handler = InboundMail(app.store, settings, SignupNotices(settings), report=echo)
    server = InboundServer(
        addresses,
        handler,
        host=host,
        port=port,
        max_bytes=settings.inbound.max_message_bytes,
    )
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except ListenError as exc:
            raise exc.within(f"--{exc.option}") from None
        try:
            echo(f"{READY_PREFIX}{server.host}:{server.port}")
            while not done.wait(0.5):
                pass
        finally:
            server.stop()
        echo("inbound stopped")
    finally:
        for sig, handler_ in previous.items():
            signal.signal(sig, handler_)
