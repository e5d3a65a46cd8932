"""`Date` says when each message was handed to the server, not when the run started.

A run capped at a low rate can take hours; a Date hours in the past is a spam signal
(`DATE_IN_PAST_03_06`) and misleads the reader about when the mail came.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from digest.deliver.headers import stamp_date
from digest.store import Store
from tests.delivery_support import NOW, add_readers, ingest, paper, send, smtp_settings
from tests.smtpd import SmtpServer


def test_two_messages_of_one_paced_run_carry_the_times_they_were_handed_over(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
    smtp_server: SmtpServer,
) -> None:
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 2)
    # One message a second: the second is handed over at least a second after the first.
    settings = smtp_settings(
        make_settings, smtp_server.port, smtp={"rate_per_second": 1, "concurrency": 1}
    )
    before = datetime.now(UTC).replace(microsecond=0)
    summary, _ = send(store, settings, now=NOW)
    after = datetime.now(UTC)
    assert summary.sent == 2
    dates = sorted(parsedate_to_datetime(str(m.message["Date"])) for m in smtp_server.messages)
    assert dates[0] != dates[1]
    assert all(before <= d <= after for d in dates), "stamped at hand-over, not at the run's now"
    assert NOW not in dates


def test_stamping_replaces_only_the_leading_date_line() -> None:
    data = b"Date: Sun, 29 Nov 2026 07:30:00 +0000\r\nSubject: hi\r\n\r\nDate: in the body\r\n"
    when = datetime(2026, 11, 29, 9, 15, 42, 123456, tzinfo=UTC)
    stamped = stamp_date(data, when)
    assert stamped == (
        b"Date: Sun, 29 Nov 2026 09:15:42 +0000\r\nSubject: hi\r\n\r\nDate: in the body\r\n"
    )
    assert stamp_date(b"Subject: no date\r\n\r\nbody", when) == b"Subject: no date\r\n\r\nbody"
