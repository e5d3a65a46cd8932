"""`digest --version` and `digest --help` start without the heavy libraries, and the table the
command group lazily loads from matches the commands themselves."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import subprocess
import sys

import click
import pytest

import digest.cli
from digest.cli.app import cli
from digest.cli.commands import COMMANDS, SUPPORT

HEAVY = ("sqlalchemy", "alembic", "pydantic", "httpx", "rich", "starlette", "uvicorn",
         "apscheduler", "jinja2", "aiosmtplib", "digest.settings", "digest.store")  # fmt: skip


def _all_commands() -> dict[str, click.Command]:
    for module in pkgutil.iter_modules(digest.cli.__path__):
        importlib.import_module(f"digest.cli.{module.name}")
    return dict(cli.commands)


def _modules(command: click.Command) -> set[str]:
    found = {command.callback.__module__} if command.callback else set()
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= _modules(sub)
    return {name.removeprefix("digest.cli.") for name in found}


def test_the_table_names_every_command_its_modules_and_summary() -> None:
    commands = _all_commands()
    assert sorted(commands) == sorted(COMMANDS)
    for name, command in commands.items():
        entry = COMMANDS[name]
        assert set(entry.modules) == _modules(command), name
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert entry.summary == " ".join(first.split()), name


def test_every_module_is_a_command_module_or_support() -> None:
    listed = {m for entry in COMMANDS.values() for m in entry.modules}
    modules = {m.name for m in pkgutil.iter_modules(digest.cli.__path__)}
    assert modules == listed | SUPPORT


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_start_up_imports_no_heavy_library(flag: str) -> None:
    probe = (
        "import sys, json, contextlib, io\n"
        "from digest.cli import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = run([{flag!r}])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    code, modules = json.loads(done.stdout)
    assert code == 0
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == []


def test_the_version_is_the_installed_package_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert digest.cli.run(["--version"]) == 0
    version = importlib.metadata.version("papers-digest")
    assert capsys.readouterr().out == f"digest, version {version}\n"


def test_help_lists_every_command_as_its_own_help_would(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert digest.cli.run(["--help"]) == 0
    listed = capsys.readouterr().out.split("Commands:\n", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    assert names == sorted(COMMANDS)
    assert "  why           Why EMAIL did or did not get a digest.\n" in listed


def test_a_bare_digest_shows_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert digest.cli.run([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Usage: digest [OPTIONS] COMMAND [ARGS]...\n")
    assert "\nCommands:\n" in captured.err
