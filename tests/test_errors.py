"""Parse errors become the project's errors in one place (`map_value_errors`): one line that
names where the value came from, what was expected and the value itself."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest

from digest.errors import ConfigError, DigestError, InvalidValue, SourceError, map_value_errors
from digest.zones import parse_zone


def test_a_library_value_error_says_what_was_expected_and_the_value() -> None:
    with (
        pytest.raises(ConfigError) as caught,
        map_value_errors(where="--date", value="2026-13-01", expected="a date", error=ConfigError),
    ):
        date.fromisoformat("2026-13-01")
    assert str(caught.value) == "--date: expected a date, got '2026-13-01'"


def test_the_project_s_own_parsers_keep_their_words_and_gain_the_place() -> None:
    with (
        pytest.raises(ConfigError) as caught,
        map_value_errors(where="[schedule] timezone", error=ConfigError),
    ):
        parse_zone("Mars/Olympus")
    assert str(caught.value) == (
        "[schedule] timezone: unknown time zone 'Mars/Olympus'; "
        "expected an IANA name such as Europe/Paris"
    )


def test_without_an_expectation_the_library_s_words_are_kept_on_one_line() -> None:
    with pytest.raises(InvalidValue) as caught, map_value_errors(where="cron"):
        raise ValueError("bad\n   value  here")
    assert str(caught.value) == "cron: bad value here"
    assert isinstance(caught.value, ValueError)  # still catchable as the builtin


def test_the_error_is_built_by_the_caller_which_adds_file_and_line() -> None:
    def at_line(line: int, message: str) -> SourceError:
        return SourceError(f"page.txt:{line}: {message}")

    with (
        pytest.raises(SourceError) as caught,
        map_value_errors(value="Feb 31", expected="a real date", error=partial(at_line, 12)),
    ):
        date(2025, 2, 31)
    assert str(caught.value) == "page.txt:12: expected a real date, got 'Feb 31'"


class LibraryError(Exception):
    pass


@pytest.mark.parametrize(
    ("raised", "mapped"),
    [(LibraryError("no key"), True), (KeyError("k"), False), (ConfigError("mine"), False)],
    ids=["listed", "unlisted", "already-ours"],
)
def test_only_value_errors_and_the_listed_library_errors_are_mapped(
    raised: Exception, mapped: bool
) -> None:
    with (
        pytest.raises(Exception) as caught,
        map_value_errors(where="key", also=(LibraryError,), error=ConfigError),
    ):
        raise raised
    if mapped:
        assert isinstance(caught.value, ConfigError) and str(caught.value) == "key: no key"
    else:
        assert caught.value is raised


def test_nothing_raised_nothing_changed() -> None:
    with map_value_errors(where="x"):
        value = date.fromisoformat("2026-03-01")
    assert value == date(2026, 3, 1)
    assert issubclass(InvalidValue, DigestError)
