"""The alias table: research vocabulary that plain-word queries expand with.

Readers write "math reasoning" and papers write "mathematical reasoning"; readers write "llm"
and papers write "large language models". A plain query (no quotes, no operators) treats each
group of `aliases.txt` as one concept: naming any member finds them all. The table ships with
the package (`aliases.txt`, reviewed general vocabulary) and an operator can add groups with
`[match] aliases_file` in the same format; a bad line is one error naming the file and line.

Terms are compared on their stems and on their folded spellings, so "LLMs", "llm" and "LLM"
find the same group, and so does "AIME" typed as "aime".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from digest.errors import ConfigError
from digest.match.normalize import tokens

Words = tuple[str, ...]  # the stems of a term, in order
_COMMON_PREFIX = "common:"


@dataclass(frozen=True, slots=True)
class Alias:
    """One term of a group: as written (for --explain and as the phrase to search) and stems."""

    text: str
    stems: Words
    surfaces: Words


@dataclass(slots=True)
class AliasTable:
    """Groups of equivalent terms, plus the words too common to require."""

    groups: list[tuple[Alias, ...]] = field(default_factory=list)
    # stems (or folded spellings) of a term → the group it belongs to
    lookup: dict[Words, int] = field(default_factory=dict)
    common: set[Words] = field(default_factory=set)
    longest: int = 1
    starts: set[str] = field(default_factory=set)  # first stems and spellings of every term

    def add_group(self, terms: list[Alias]) -> None:
        """Add a group; a term already in another group merges the two (equivalence is
        transitive: an operator's line extends the shipped group it overlaps)."""
        joined = {self.lookup[k] for t in terms for k in (t.stems, t.surfaces) if k in self.lookup}
        members: dict[Words, Alias] = {}
        for index in sorted(joined):
            for alias in self.groups[index]:
                members.setdefault(alias.stems, alias)
            self.groups[index] = ()
        for alias in terms:
            members.setdefault(alias.stems, alias)
        number = len(self.groups)
        self.groups.append(tuple(members.values()))
        for alias in members.values():
            self.lookup[alias.stems] = number
            self.lookup[alias.surfaces] = number
            self.longest = max(self.longest, len(alias.stems))
            self.starts.update((alias.stems[0], alias.surfaces[0]))

    def group(self, stems: Words, surfaces: Words) -> tuple[Alias, ...] | None:
        found = self.lookup.get(stems)
        if found is None:
            found = self.lookup.get(surfaces)
        return None if found is None else self.groups[found]

    def is_common(self, stems: Words, surfaces: Words) -> bool:
        return stems in self.common or surfaces in self.common

    def extended(self, text: str, source: str) -> AliasTable:
        """A copy of this table with the groups of `text` (an aliases file) added."""
        table = AliasTable(
            list(self.groups), dict(self.lookup), set(self.common), self.longest, set(self.starts)
        )
        _read(table, text, source)
        return table


def _term(raw: str, where: str) -> Alias:
    toks = tokens(raw)
    if not toks:
        raise ConfigError(f'{where}: "{raw}" has no letters or digits')
    return Alias(" ".join(raw.split()), tuple(t.stem for t in toks), tuple(t.surface for t in toks))


def _read(table: AliasTable, text: str, source: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        where = f"{source}:{number}"
        if body.lower().startswith(_COMMON_PREFIX):
            for raw in body[len(_COMMON_PREFIX) :].split(","):
                if raw.strip():
                    term = _term(raw.strip(), where)
                    table.common.update((term.stems, term.surfaces))
            continue
        parts = [raw.strip() for raw in body.split(",")]
        if len(parts) < 2 or not all(parts):
            raise ConfigError(
                f"{where}: expected two or more comma-separated terms that mean the same "
                f'(as in "RL, reinforcement learning") or "common: word, ..."'
            )
        table.add_group([_term(raw, where) for raw in parts])


@lru_cache(maxsize=1)
def shipped_aliases() -> AliasTable:
    """The table shipped with the package."""
    text = resources.files("digest.match").joinpath("aliases.txt").read_text(encoding="utf-8")
    table = AliasTable()
    _read(table, text, "aliases.txt")
    return table


def load_aliases(path: Path | None) -> AliasTable:
    """The shipped table, extended by an operator's file (`[match] aliases_file`) if given."""
    if path is None:
        return shipped_aliases()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read aliases file ({exc})") from None
    return shipped_aliases().extended(text, str(path))
