"""Property-based checks of the profile loader: any file gives profiles or one ProfileError line
naming the file and a line of it, and every valid profile loads back exactly as written.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import ProfileError
from digest.models import Profile, Topic
from digest.profiles import load_profiles, profile_from_mapping
from digest.profiles.validate import PROFILE_KEYS
from tests.tomlwrite import document

PROPERTIES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
field_values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.lists(
        st.dictionaries(st.sampled_from(["name", "query", "weight"]), scalars, max_size=3),
        min_size=1,
        max_size=3,
    ),
)
tables = st.dictionaries(
    st.one_of(st.sampled_from(PROFILE_KEYS), st.from_regex(r"[a-z_]{1,10}", fullmatch=True)),
    field_values,
    max_size=6,
)


def _check_error(error: ProfileError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message and "Traceback" not in message
    prefix, _, rest = message.partition(": ")
    assert prefix.startswith(f"{path}:"), message
    line = prefix.removeprefix(f"{path}:")
    assert line.isdigit() and int(line) >= 1, message
    assert rest, message


@PROPERTIES
@given(text=st.text(max_size=300))
def test_any_text_is_profiles_or_one_line_naming_file_and_line(text: str, tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_profiles(path)
    except ProfileError as exc:
        _check_error(exc, path)


@PROPERTIES
@given(table=tables, many=st.booleans())
def test_any_table_is_profiles_or_one_line_naming_file_and_line(
    table: dict[str, Any], many: bool, tmp_path: Path
) -> None:
    data: dict[str, Any] = {"subscribers": [table]} if many and table else table
    text = document(data)
    assert tomllib.loads(text) == data  # the writer is faithful
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    try:
        [profile] = load_profiles(path)
    except ProfileError as exc:
        _check_error(exc, path)
    else:
        assert profile == profile_from_mapping(table, where="again")


@PROPERTIES
@given(table=tables)
def test_a_mapping_is_a_profile_or_one_line_naming_the_field(table: dict[str, Any]) -> None:
    try:
        profile_from_mapping(table, where="form")
    except ProfileError as exc:
        message = str(exc)
        assert message.startswith("form: ") and "\n" not in message, message


local_parts = st.from_regex(r"[a-z][a-z0-9.]{0,10}[a-z0-9]", fullmatch=True).filter(
    lambda local: ".." not in local
)
topic_names = st.text(
    alphabet=st.characters(whitelist_categories=["L", "N"], max_codepoint=0x2FFF),
    min_size=1,
    max_size=30,
)
words = st.from_regex(r"[a-z]{2,12}", fullmatch=True).filter(
    lambda word: word not in {"or", "and", "not"}
)
valid_profiles = st.builds(
    Profile,
    email=local_parts.map(lambda local: f"{local}@example.org"),
    name=st.none()
    | st.text(
        alphabet=st.characters(
            min_codepoint=0x20,
            max_codepoint=0x2FFF,
            blacklist_categories=["Cc", "Cs", "Zl", "Zp", "Zs"],
        ),
        min_size=1,
        max_size=40,
    ),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]),
    cadence=st.sampled_from(["daily", "weekly:mon", "weekly:sun"]),
    send_time=st.times().map(lambda t: f"{t.hour:02d}:{t.minute:02d}"),
    max_papers=st.integers(min_value=1, max_value=100),
    min_upvotes=st.integers(min_value=0, max_value=1_000_000),
    trending=st.just(True),
    topics=st.lists(
        st.builds(Topic, name=topic_names, query=words),
        max_size=5,
        unique_by=lambda t: t.name.casefold(),
    ).map(tuple),
)


def _as_table(profile: Profile) -> dict[str, Any]:
    table: dict[str, Any] = {
        "email": profile.email,
        "timezone": profile.timezone,
        "cadence": profile.cadence,
        "send_time": profile.send_time,
        "max_papers": profile.max_papers,
        "min_upvotes": profile.min_upvotes,
        "trending": profile.trending,
    }
    if profile.name is not None:
        table["name"] = profile.name
    if profile.topics:
        table["topics"] = [{"name": t.name, "query": t.query} for t in profile.topics]
    return table


@PROPERTIES
@given(profiles=st.lists(valid_profiles, min_size=1, max_size=4))
def test_valid_profiles_load_back_exactly(profiles: list[Profile], tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text(
        document({"subscribers": [_as_table(profile) for profile in profiles]}), encoding="utf-8"
    )
    assert load_profiles(path) == profiles
