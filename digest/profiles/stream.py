"""Profiles read one at a time, so a file of 100,000 `[[subscribers]]` never sits in memory whole.

tomllib parses a whole document at once; a `[[subscribers]]` file is a sequence of independent
tables, so each one (its header up to the next top-level `[[subscribers]]` header) is parsed and
validated on its own, and an error still names the file and the line in it. A file whose shape
is anything else (one profile, keys beside the tables) is small or wrong, and goes through the
whole-document reader in `files.py`.

A line reading exactly `[[subscribers]]` inside a multi-line string would be taken for a header
and that profile reported as invalid TOML; profile files carry no such strings in practice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from digest.errors import ProfileError
from digest.profiles.files import ProfileResult, parse_text, profile_files

_TABLE = re.compile(r"^\s*\[\[\s*subscribers\s*\]\]\s*(?:#.*)?$")
_BLANK = re.compile(r"^\s*(?:#.*)?$")


def iter_profiles(path: Path) -> Iterator[ProfileResult]:
    """Every profile under `path` (a file or a folder of *.toml), good and bad, in file order,
    each yielded as soon as it is read."""
    for file in profile_files(path):
        yield from _stream_file(file)


def _stream_file(file: Path) -> Iterator[ProfileResult]:
    preamble: list[str] = []
    chunk: list[str] = []
    start = 0  # line number of the current chunk's header
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            for number, line in enumerate(handle, start=1):
                if _TABLE.match(line):
                    if start == 0:
                        if not all(_BLANK.match(kept) for kept in preamble):
                            yield from _whole(file)
                            return
                        preamble = []
                    else:
                        yield _one(file, chunk, start)
                    chunk, start = [line], number
                elif start == 0:
                    preamble.append(line)
                else:
                    chunk.append(line)
    except (OSError, UnicodeDecodeError) as exc:
        yield ProfileResult(file, error=ProfileError(f"{file}: cannot read: {exc}"))
        return
    if start == 0:
        yield from parse_text(file, "".join(preamble))
    else:
        yield _one(file, chunk, start)


def _one(file: Path, lines: list[str], first_line: int) -> ProfileResult:
    results = parse_text(file, "".join(lines), first_line)
    if len(results) == 1:
        return results[0]
    where = f"{file}:{first_line}"
    return ProfileResult(file, error=ProfileError(f"{where}: expected one [[subscribers]] table"))


def _whole(file: Path) -> Iterator[ProfileResult]:
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        yield ProfileResult(file, error=ProfileError(f"{file}: cannot read: {exc}"))
        return
    yield from parse_text(file, text)
