"""The server's answers of a send run, written to the ledger in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from digest.app.send_events import SendEvent
from digest.store.deliveries import Ledger, Result

# Answers are written once as many have come back as there are connections (so that a crash
# re-sends at most one message per connection more than those in flight), or this long after
# the first unwritten one. On SQLite, one `record` costs ~0.2 ms CPU per message in batches of
# 4, 0.06 ms in batches of 16; with 16 connections a batch of 16 takes ~60 ms to come back at
# 250 msg/s, so the timer is a bound for slow runs, not what sizes the batches.
FLUSH_SECONDS = 0.1


class Results:
    """Outcomes waiting to be written. A crash before they are re-sends those messages once
    more (the crash rule of digest.store.deliveries): never more than one extra copy of each,
    and only of those answered in the last `FLUSH_SECONDS`."""

    def __init__(self, ledger: Ledger, report: Callable[[SendEvent], None], *, every: int) -> None:
        self.ledger = ledger
        self._report = report
        self._every = max(1, every)
        self._pending: list[tuple[Result, str]] = []  # with the reader's address
        self._timer: asyncio.TimerHandle | None = None
        self.broken: BaseException | None = None  # a write that failed on the timer

    def keep(self, result: Result, email: str) -> None:
        """Hold an outcome known before sending (skipped, failed) for the next flush."""
        self._pending.append((result, email))

    def add(self, result: Result, email: str) -> None:
        """An answer of the server: written with the next batch."""
        self._pending.append((result, email))
        if len(self._pending) >= self._every:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._later)

    def _later(self) -> None:
        self._timer = None
        try:
            self.flush()
        except Exception as exc:  # a timer cannot propagate it: the run raises it again
            self.broken = exc

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        self.ledger.record([result for result, _ in pending])
        for result, email in pending:
            self._report(
                SendEvent(
                    result.outcome, email, result.claim.edition, result.error, result.attempts
                )
            )
