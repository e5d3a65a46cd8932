"""Every command the README shows runs as printed: each `digest …` line in a shell block names
commands and options the CLI has (click parses it), and the going-live configuration is a
settings file that loads."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest

from digest.cli.app import cli
from digest.settings import load_settings
from tests.conftest import ROOT

README = ROOT / "README.md"
# Commands that arrive with work merged beside this one (schema upgrades, backups): checked as
# soon as the CLI has them, so the README cannot drift once they land.
ARRIVING = {"db", "backup"}


def blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def digest_lines() -> list[str]:
    lines: list[str] = []
    for block in blocks("sh"):
        for raw in block.splitlines():
            line = raw.split(" #", 1)[0].strip()
            line = line.split("|")[-1].strip() if "|" in line and "[" not in line else line
            line = line.removesuffix("&").strip()
            if line.startswith("digest ") and "[--" not in line and " | " not in line:
                lines.append(line)
    return lines


def test_the_readme_shows_digest_commands() -> None:
    assert len(digest_lines()) >= 15


@pytest.mark.parametrize("line", digest_lines())
def test_each_command_line_parses(line: str) -> None:
    argv = shlex.split(re.sub(r"\$\([^)]*\)", "X", line))[1:]
    group: click.Command = cli
    if argv[:1] == ["--config"]:
        argv = argv[2:]
    while isinstance(group, click.Group) and argv and not argv[0].startswith("-"):
        name, argv = argv[0], argv[1:]
        command = group.get_command(click.Context(group), name)
        if command is None and name in ARRIVING:
            pytest.skip(f"`digest {name}` is not in this build yet")
        assert command is not None, f"{line}: no command {name!r}"
        group = command
    try:
        group.make_context(group.name, list(argv))  # an unknown option or a bad value raises
    except click.exceptions.Exit as done:  # --version and --help answer and stop
        assert done.exit_code == 0


def test_the_going_live_configuration_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [config] = [b for b in blocks("toml") if "[smtp]" in b and "port = 587" in b]
    tomllib.loads(config)
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", "x" * 43)
    monkeypatch.setenv("DIGEST_SMTP__PASSWORD", "provider-password")
    monkeypatch.setenv("DIGEST_ADMIN__PASSWORD", "a-long-admin-password")
    settings = load_settings(path)
    assert settings.smtp.security == "starttls" and settings.smtp.port == 587
    assert settings.ingest.sources[0] == "https://huggingface.co/api/daily_papers"
    assert settings.admin.password is not None and settings.alerts.email
