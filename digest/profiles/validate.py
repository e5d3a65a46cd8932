"""One profile's rules, for every way a profile arrives: a TOML file, a web form, a mail command.

Each check reports the path of the offending key (`topics[1].query`), so the file reader can
name a line and a form can point at a field.

Absent `max_papers`, `min_upvotes` and `trending` take the `Profile` defaults (10, 0, true): a
profile file means the same thing whichever installation imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from digest.addresses import MAX_ADDRESS_LENGTH, check_address
from digest.errors import ProfileError, QueryError, map_value_errors
from digest.match import compile_query
from digest.models import Profile, Topic
from digest.profiles.cadence import parse_cadence, parse_local_time, parse_timezone

PROFILE_KEYS = (
    "email",
    "name",
    "timezone",
    "cadence",
    "send_time",
    "max_papers",
    "min_upvotes",
    "trending",
    "topics",
)
TOPIC_KEYS = ("name", "query", "like")
MAX_LIKE = 20  # papers per topic by example
MAX_LIKE_ENTRY = 300
MAX_PAPERS = 100
MAX_MIN_UPVOTES = 1_000_000
MAX_TOPICS = 50
MAX_TOPIC_NAME = 100
MAX_QUERY = 500

PathKey = tuple[str | int, ...]


class ProfileFieldError(ProfileError):
    """A ProfileError that also says which field (`topics[1].query`) for forms to point at."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidField(Exception):
    """A value at `path` failed; the caller words where (a file line, a form field)."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def profile_from_mapping(data: Mapping[str, Any], *, where: str) -> Profile:
    """Validate one profile given as a mapping (a parsed TOML table, a web form's values)."""
    try:
        return validate_profile(data, ())
    except InvalidField as bad:
        field = _dotted(bad.path)
        prefix = f"{where}: {field}: " if field else f"{where}: "
        raise ProfileFieldError(prefix + bad.message, field=field) from None


def validate_profile(data: Mapping[str, Any], base: PathKey) -> Profile:
    for key in data:
        if key not in PROFILE_KEYS:
            raise InvalidField(
                (*base, key), f'unknown key "{key}"; expected one of {", ".join(PROFILE_KEYS)}'
            )
    if "email" not in data:
        raise InvalidField(base, 'missing key "email"')
    values: dict[str, Any] = {"email": _email(data["email"], (*base, "email"))}
    if "name" in data:
        values["name"] = _text(data["name"], (*base, "name"), 200, "name") or None
    for key, check in (
        ("timezone", parse_timezone),
        ("cadence", parse_cadence),
        ("send_time", parse_local_time),
    ):
        if key in data:
            raw = _text(data[key], (*base, key), 64, key)
            with map_value_errors(where=key, error=partial(InvalidField, (*base, key))):
                parsed = check(raw)
            values[key] = str(parsed) if key == "cadence" else raw
    for key, low, high in (("max_papers", 1, MAX_PAPERS), ("min_upvotes", 0, MAX_MIN_UPVOTES)):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidField(
                    (*base, key),
                    f"{key}: expected a whole number from {low} to {high}, got {value!r}",
                )
            values[key] = value
    if "trending" in data:
        if not isinstance(data["trending"], bool):
            raise InvalidField(
                (*base, "trending"), f"trending: expected true or false, got {data['trending']!r}"
            )
        values["trending"] = data["trending"]
    topics = _topics(data.get("topics", []), (*base, "topics"))
    if not topics and values.get("trending", True) is False:
        raise InvalidField(base, "no topics and trending = false: every digest would be empty")
    return Profile(**values, topics=topics)


def _text(value: Any, path: PathKey, limit: int, label: str) -> str:
    if not isinstance(value, str):
        raise InvalidField(path, f"{label}: expected a string, got {value!r}")
    text = value.strip()
    if len(text) > limit:
        raise InvalidField(path, f"{label}: longer than {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidField(path, f"{label}: control characters are not allowed")
    return text


def _email(value: Any, path: PathKey) -> str:
    text = _text(value, path, MAX_ADDRESS_LENGTH, "email")
    with map_value_errors(where="email", error=partial(InvalidField, path)):
        return check_address(text).normalized


def _topics(value: Any, path: PathKey) -> tuple[Topic, ...]:
    if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
        raise InvalidField(path, "topics: expected [[topics]] tables with a name and a query")
    if len(value) > MAX_TOPICS:
        raise InvalidField(path, f"topics: at most {MAX_TOPICS} topics")
    topics: list[Topic] = []
    names: set[str] = set()
    for i, raw in enumerate(value):
        here = (*path, i)
        for key in raw:
            if key not in TOPIC_KEYS:
                raise InvalidField(
                    (*here, key), f'unknown key "{key}" in a topic; expected name, query, like'
                )
        if "name" not in raw:
            raise InvalidField(here, f'topic {i + 1}: missing key "name"')
        if "query" not in raw and "like" not in raw:
            raise InvalidField(here, f'topic {i + 1}: missing key "query" (or "like")')
        name = _text(raw["name"], (*here, "name"), MAX_TOPIC_NAME, "topic name")
        if not name:
            raise InvalidField((*here, "name"), "topic name: must not be empty")
        if name.casefold() in names:
            raise InvalidField((*here, "name"), f'topic name: "{name}" is used twice')
        names.add(name.casefold())
        like = _like(raw["like"], (*here, "like"), name) if "like" in raw else ()
        query = ""
        if "query" in raw or not like:
            query = _text(raw.get("query", ""), (*here, "query"), MAX_QUERY, "query")
            try:
                compile_query(query)
            except QueryError as exc:
                raise InvalidField((*here, "query"), f'topic "{name}": query: {exc}') from None
        topics.append(Topic(name=name, query=query, like=like))
    return tuple(topics)


def _like(value: Any, path: PathKey, name: str) -> tuple[str, ...]:
    """`like = ["2501.12345", "Some title", ...]`: arXiv ids, paper ids or titles. Only their
    shape is checked here: a paper not stored yet may arrive with a later ingest."""
    where = f'topic "{name}": like'
    if not isinstance(value, list) or not value:
        raise InvalidField(path, f"{where}: expected a list of paper ids or titles, got {value!r}")
    if len(value) > MAX_LIKE:
        raise InvalidField(path, f"{where}: at most {MAX_LIKE} papers")
    entries: list[str] = []
    for item in value:
        entry = " ".join(item.split()) if isinstance(item, str) else ""
        if not entry or len(entry) > MAX_LIKE_ENTRY:
            raise InvalidField(
                path,
                f"{where}: expected a paper id or title (1 to {MAX_LIKE_ENTRY} characters), "
                f"got {item!r}",
            )
        if entry not in entries:
            entries.append(entry)
    return tuple(entries)


def topic_table(topic: Topic) -> dict[str, Any]:
    """A topic as its profile table: name, and query and `like` when it has them."""
    table: dict[str, Any] = {"name": topic.name}
    if topic.query or not topic.like:
        table["query"] = topic.query
    if topic.like:
        table["like"] = list(topic.like)
    return table
