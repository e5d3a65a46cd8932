"""The command-line contract shared by every command: exit codes and one-line errors."""

from __future__ import annotations

import pytest

from digest.cli.app import run


@pytest.mark.parametrize(
    "argv",
    [
        ["papers", "--limit", "many"],
        ["ingest", "x.txt", "--format", "pdf"],
        ["no-such-command"],
        ["papers", "--bogus"],
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_missing_config_file_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--config", "/nonexistent/config.toml", "papers"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_help_lists_every_documented_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for command in (
        "ingest",
        "papers",
        "match",
        "subscribers",
        "preview",
        "send",
        "sink",
        "serve",
        "due",
        "demo",
    ):
        assert command in out
