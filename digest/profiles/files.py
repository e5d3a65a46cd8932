"""Subscriber profiles from TOML files: one subscriber per file, or many as `[[subscribers]]`.

Every profile is validated (`digest.profiles.validate`) before anything touches the database,
and an error names the file and the line of the offending key, so an operator can fix a folder
of profiles quickly. tomllib reports no positions, hence the small locator below.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.errors import ProfileError
from digest.models import Profile
from digest.profiles.validate import InvalidField, PathKey, validate_profile

# What `status = …` may say: where the reader stands, for `digest subscribers import` (an
# export keeps it, so moving an install does not mail again the readers who left).
STATUSES = ("active", "pending", "unsubscribed", "bounced")


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """One profile read from `source`: either `profile` (with the reader's `status`) or the
    `error` that rejected it."""

    source: Path
    profile: Profile | None = None
    error: ProfileError | None = None
    status: str = "active"


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
    return parse_text(file, text)


def parse_text(file: Path, text: str, first_line: int = 1) -> list[ProfileResult]:
    """The profiles in `text`, read from `file` where it starts at line `first_line`."""
    shift = first_line - 1
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) + shift if found else first_line
        reason = re.sub(r"\s*\(at [^)]*\)$", "", str(exc))
        return [ProfileResult(file, error=ProfileError(f"{file}:{line}: invalid TOML: {reason}"))]
    locator = _Locator(text)

    def locate(path: Sequence[str | int]) -> int:
        return locator.line(path) + shift

    def check(table: Mapping[str, Any], base: PathKey) -> ProfileResult:
        status = table.get("status", "active")
        if status not in STATUSES:
            where = locate((*base, "status"))
            wanted = ", ".join(f'"{s}"' for s in STATUSES)
            message = f"status: expected one of {wanted}, got {status!r}"
            return ProfileResult(file, error=ProfileError(f"{file}:{where}: {message}"))
        fields = {key: value for key, value in table.items() if key != "status"}
        try:
            return ProfileResult(file, profile=validate_profile(fields, base), status=status)
        except InvalidField as bad:
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
