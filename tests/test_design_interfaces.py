"""The interfaces DESIGN.md says are checked from outside, checked the way an outside check does:
exit codes, one error line, and `--json` printing one document or nothing."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Cli


@pytest.mark.parametrize(
    "argv",
    [
        ["due", "--at", "2026-12-04T08:00:00Z", "--json"],
        ["papers", "--json"],
        ["stats", "--json"],
        ["subscribers", "export", "--json"],
    ],
)
def test_a_bad_setting_is_one_line_and_nothing_on_stdout(
    digest: Cli, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("DIGEST_SCHEDULE__CATCH_UP_HOURS", "soon")
    code, out, err = digest(*argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("error: $DIGEST_SCHEDULE__CATCH_UP_HOURS: [schedule] catch_up_hours")


def test_due_json_on_an_empty_database_is_an_empty_array(digest: Cli) -> None:
    code, out, err = digest("due", "--at", "2026-12-04T08:00:00Z", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == []
