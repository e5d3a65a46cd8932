"""Subscriber profiles from TOML files (and from any mapping, for the web app).

A file holds one subscriber (top-level keys) or many (`[[subscribers]]` tables with the same
keys). Every value is checked here, before anything touches the database, and an error names the
file and the line of the offending key so an operator can fix a folder of profiles quickly.

Absent `max_papers`, `min_upvotes` and `trending` take the `Profile` defaults (10, 0, true): a
profile file means the same thing whichever installation imports it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from digest.cadence import parse_cadence, parse_timezone
from digest.errors import ProfileError, QueryError
from digest.match import compile_query
from digest.models import Profile, Topic
from digest.settings import parse_local_time

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
TOPIC_KEYS = ("name", "query")
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


class _Invalid(Exception):
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
        return _profile(data, ())
    except _Invalid as bad:
        field = _dotted(bad.path)
        prefix = f"{where}: {field}: " if field else f"{where}: "
        raise ProfileFieldError(prefix + bad.message, field=field) from None


def _profile(data: Mapping[str, Any], base: PathKey) -> Profile:
    for key in data:
        if key not in PROFILE_KEYS:
            raise _Invalid(
                (*base, key), f'unknown key "{key}"; expected one of {", ".join(PROFILE_KEYS)}'
            )
    if "email" not in data:
        raise _Invalid(base, 'missing key "email"')
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
            try:
                parsed = check(raw)
            except ValueError as exc:
                raise _Invalid((*base, key), f"{key}: {exc}") from None
            values[key] = str(parsed) if key == "cadence" else raw
    for key, low, high in (("max_papers", 1, MAX_PAPERS), ("min_upvotes", 0, MAX_MIN_UPVOTES)):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _Invalid(
                    (*base, key),
                    f"{key}: expected a whole number from {low} to {high}, got {value!r}",
                )
            values[key] = value
    if "trending" in data:
        if not isinstance(data["trending"], bool):
            raise _Invalid(
                (*base, "trending"), f"trending: expected true or false, got {data['trending']!r}"
            )
        values["trending"] = data["trending"]
    topics = _topics(data.get("topics", []), (*base, "topics"))
    if not topics and values.get("trending", True) is False:
        raise _Invalid(base, "no topics and trending = false: every digest would be empty")
    return Profile(**values, topics=topics)


def _text(value: Any, path: PathKey, limit: int, label: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(path, f"{label}: expected a string, got {value!r}")
    text = value.strip()
    if len(text) > limit:
        raise _Invalid(path, f"{label}: longer than {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise _Invalid(path, f"{label}: control characters are not allowed")
    return text


def _email(value: Any, path: PathKey) -> str:
    text = _text(value, path, 320, "email")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise _Invalid(path, f"email: {text!r} is not a valid address ({exc})") from None


def _topics(value: Any, path: PathKey) -> tuple[Topic, ...]:
    if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
        raise _Invalid(path, "topics: expected [[topics]] tables with a name and a query")
    if len(value) > MAX_TOPICS:
        raise _Invalid(path, f"topics: at most {MAX_TOPICS} topics")
    topics: list[Topic] = []
    names: set[str] = set()
    for i, raw in enumerate(value):
        here = (*path, i)
        for key in raw:
            if key not in TOPIC_KEYS:
                raise _Invalid(
                    (*here, key), f'unknown key "{key}" in a topic; expected name, query'
                )
        for key in TOPIC_KEYS:
            if key not in raw:
                raise _Invalid(here, f'topic {i + 1}: missing key "{key}"')
        name = _text(raw["name"], (*here, "name"), MAX_TOPIC_NAME, "topic name")
        if not name:
            raise _Invalid((*here, "name"), "topic name: must not be empty")
        if name.casefold() in names:
            raise _Invalid((*here, "name"), f'topic name: "{name}" is used twice')
        names.add(name.casefold())
        query = _text(raw["query"], (*here, "query"), MAX_QUERY, "query")
        try:
            compile_query(query)
        except QueryError as exc:
            raise _Invalid((*here, "query"), f'topic "{name}": query: {exc}') from None
        topics.append(Topic(name=name, query=query))
    return tuple(topics)


# -- files -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """One profile read from `source`: either `profile` or the `error` that rejected it."""

    source: Path
    profile: Profile | None = None
    error: ProfileError | None = None


def profile_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.glob("*.toml") if p.is_file())
        if not files:
            raise ProfileError(f"{path}: no .toml profiles in this folder")
        return files
    if not path.is_file():
        raise ProfileError(f"{path}: no such file or folder")
    return [path]


def read_profiles(path: Path) -> list[ProfileResult]:
    """Every profile under `path` (a file or a folder of *.toml), good and bad, in file order:
    one bad profile does not hide the others."""
    return [result for file in profile_files(path) for result in _read_file(file)]


def load_profiles(path: Path) -> list[Profile]:
    """All profiles under `path`; raises the first ProfileError ("FILE:LINE: message")."""
    profiles: list[Profile] = []
    for result in read_profiles(path):
        if result.error is not None:
            raise result.error
        assert result.profile is not None
        profiles.append(result.profile)
    return profiles


def _read_file(file: Path) -> list[ProfileResult]:
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [ProfileResult(file, error=ProfileError(f"{file}: cannot read: {exc}"))]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = found.group(1) if found else "1"
        reason = re.sub(r"\s*\(at [^)]*\)$", "", str(exc))
        return [ProfileResult(file, error=ProfileError(f"{file}:{line}: invalid TOML: {reason}"))]
    locate = _Locator(text).line

    def check(table: Mapping[str, Any], base: PathKey) -> ProfileResult:
        try:
            return ProfileResult(file, profile=_profile(table, base))
        except _Invalid as bad:
            return ProfileResult(
                file, error=ProfileError(f"{file}:{locate(bad.path)}: {bad.message}")
            )

    if "subscribers" not in data:
        return [check(data, ())]
    extra = [key for key in data if key != "subscribers"]
    if extra:
        message = f'"{extra[0]}" beside [[subscribers]]: put it inside each [[subscribers]] table'
        return [ProfileResult(file, error=ProfileError(f"{file}:{locate((extra[0],))}: {message}"))]
    tables = data["subscribers"]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        where = locate(("subscribers",))
        return [
            ProfileResult(
                file, error=ProfileError(f"{file}:{where}: expected [[subscribers]] tables")
            )
        ]
    return [check(table, ("subscribers", i)) for i, table in enumerate(tables)]


_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")


class _Locator:
    """Finds the line of a key path such as ("subscribers", 1, "topics", 0, "query") in TOML
    text, since tomllib reports no positions. Good enough for the layouts people write; falls
    back to the enclosing table's header, then line 1."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []  # (0-based line, dotted table name)
        for number, line in enumerate(self.lines):
            found = _HEADER.match(line)
            if found:
                name = ".".join(part.strip().strip("\"'") for part in found.group(1).split("."))
                self.headers.append((number, name))

    def line(self, path: Sequence[str | int]) -> int:
        start, end, table, fallback = 0, len(self.lines), "", 0
        steps = list(path)
        i = 0
        while i < len(steps):
            step = steps[i]
            if isinstance(step, str) and i + 1 < len(steps) and isinstance(steps[i + 1], int):
                name = f"{table}{step}"
                wanted = steps[i + 1]
                assert isinstance(wanted, int)
                matches = [n for n, h in self.headers if h == name and start <= n < end]
                if wanted >= len(matches):
                    return self._key_line(step, start, end) or fallback + 1
                start = matches[wanted]
                fallback = start
                later = [n for n, h in self.headers if n > start and not h.startswith(name + ".")]
                end = min([n for n in later if n < end] or [end])
                start += 1
                table = name + "."
                i += 2
                continue
            if isinstance(step, str):
                return self._key_line(step, start, end) or fallback + 1
            i += 1
        return fallback + 1

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        """The key's line among the table's own keys (before any sub-table header)."""
        quoted = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:{quoted}|"{quoted}"|'{quoted}')\s*=""")
        header_lines = {n for n, _ in self.headers}
        for number in range(start, end):
            if number in header_lines:
                break
            if pattern.match(self.lines[number]):
                return number + 1
        return None
