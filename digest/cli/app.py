"""The `digest` command group and what every command shares: settings, store, error handling.

Commands live one group per module in this package (`ingest.py`, `match.py`, …) and register
themselves on `cli`. The group imports a command's module only when that command runs
(`commands.COMMANDS` says which), so `digest --version` and `--help` start fast. A command never
holds business logic.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from digest import __version__
from digest.cli.commands import COMMANDS, SUPPORT
from digest.cli.runtime import Runtime
from digest.errors import ConfigError, DigestError, map_value_errors


class LazyGroup(click.Group):
    """A group whose commands are imported on first use. Help lists them from the table in
    `digest.cli.commands`; a module the table does not know is found by scanning the package."""

    def _import(self, modules: tuple[str, ...]) -> None:
        for module in modules:
            importlib.import_module(f"digest.cli.{module}")

    def _import_unlisted(self) -> None:
        known = SUPPORT | {module for entry in COMMANDS.values() for module in entry.modules}
        package = importlib.import_module("digest.cli")
        self._import(
            tuple(m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in known)
        )

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is not None:
            self._import(entry.modules)
        if cmd_name not in self.commands:
            self._import_unlisted()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, from the table for commands not imported yet."""
        self._import_unlisted()
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            # A stand-in carrying the summary shortens it exactly as the command itself would.
            shown = self.commands.get(name) or click.Command(name, help=COMMANDS[name].summary)
            if not shown.hidden:
                rows.append((name, shown.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class AppContext(Runtime):
    """What every command gets through `pass_app`: settings and store, opened on first use."""


pass_app = click.make_pass_decorator(AppContext)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Settings file (default: $DIGEST_CONFIG, else ./config.toml if present).",
)
# The version as the package states it: asking importlib.metadata would cost more than the
# rest of `digest --version` (tests/test_cli_startup.py checks that the two agree).
@click.version_option(version=__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """papers-digest: trending research papers in your inbox."""
    app = AppContext(config_path=config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)


def parse_date_option(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """Click callback for `--date YYYY-MM-DD` (None when the option is not given)."""
    if value is None:
        return None
    with map_value_errors(
        where="--date", value=value, expected="a date as YYYY-MM-DD", error=ConfigError
    ):
        return date.fromisoformat(value.strip())


def print_json(value: Any) -> None:
    """`--json` output: one document on stdout and nothing else."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def fail(message: str) -> None:
    """A user error: one line on stderr, exit status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


class WarningLines(logging.Handler):
    """The library's warnings (a reader skipped because a stored value no longer validates, a
    source that yielded nothing) reach the operator of a command as `warning: …` lines on
    stderr. `digest serve` replaces this with its own log format."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"warning: {record.getMessage()}", err=True)


def report_warnings(on: bool = True) -> None:
    logger = logging.getLogger("digest")
    for handler in [h for h in logger.handlers if isinstance(h, WarningLines)]:
        logger.removeHandler(handler)
    if on:
        logger.addHandler(WarningLines())


def run(argv: list[str] | None = None) -> int:
    """Entry point: user errors exit 2 with one line (a busy database 1); anything unexpected 1."""
    report_warnings()
    try:
        # Outside standalone mode click returns an `Exit`'s code instead of raising it.
        code = cli.main(args=argv, prog_name="digest", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except DigestError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_status
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:
        # A bare `digest` (or group): the help as it is meant to be read, not folded into a line.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), err=True)
        return 2
    except click.UsageError as exc:
        # One line, like every other user error; `--help` still shows the full usage.
        where = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
        message = " ".join(exc.format_message().split())
        click.echo(f"error: {where}{message} (see --help)", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        return 2 if exc.exit_code == 1 else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 0
