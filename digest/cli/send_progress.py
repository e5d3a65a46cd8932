"""`digest send` on a terminal: a rich progress bar over the readers, then a summary table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from digest.app.send import SendEvent, SendSummary
from digest.cli.send import OUTCOMES, WOULD

__all__ = ["Console", "ProgressBar"]


class ProgressBar:
    """A terminal: a rich progress bar over the readers, then a summary table."""

    def __init__(self, console: Console, *, dry_run: bool = False) -> None:
        self.console = console
        self.dry_run = dry_run
        self.bar = Progress(
            TextColumn("[bold]dry run" if dry_run else "[bold]sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.bar.add_task("send", total=None, counts="")
        self.counts = dict.fromkeys(OUTCOMES, 0)

    def __enter__(self) -> ProgressBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, event: SendEvent) -> None:
        if event.kind == "start":
            self.bar.update(self.task, total=event.total)
            return
        if event.kind == "resumed":
            return
        if event.kind in self.counts:
            self.counts[event.kind] += 1
        if event.kind in ("deferred", "failed", "bounced"):
            self.bar.console.print(f"[yellow]{event.kind}[/] {event.email}: {event.error}")
        words = WOULD if self.dry_run else {}
        counts = "  ".join(f"{words.get(k, k)} {v}" for k, v in self.counts.items() if v)
        self.bar.advance(self.task)
        self.bar.update(self.task, counts=counts)

    def summary(self, summary: SendSummary, *, dry_run: bool) -> None:
        table = Table(title="dry run: nothing sent" if dry_run else "send summary")
        table.add_column("outcome")
        table.add_column("readers", justify="right")
        for name, count in summary.as_dict().items():
            table.add_row(WOULD.get(name, name) if dry_run else name, str(count))
        self.console.print(table)
