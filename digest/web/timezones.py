"""The time-zone list of the web forms: canonical zones only, grouped by region.

`zoneinfo.available_timezones()` also holds every legacy alias (`US/Eastern`, `Asia/Calcutta`,
`GB`, …): 500-odd entries where a reader looks for their city among 300. The canonical names
are those of tzdata's `zone.tab` (one line per country and zone), read from the `tzdata`
package the project depends on, else from the system's zoneinfo folders. Any valid IANA name is
still accepted when posted: the browser may know the reader's zone by an older name.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

Choice = tuple[str, str]  # (value, label)


@dataclass(frozen=True, slots=True)
class TimezoneList:
    """UTC first, then `groups` of (region, choices) in name order; `zone in list` asks
    whether a zone is offered."""

    groups: tuple[tuple[str, tuple[Choice, ...]], ...]
    first: Choice = ("UTC", "UTC")

    def __contains__(self, zone: object) -> bool:
        return zone == self.first[0] or any(zone == v for _, c in self.groups for v, _ in c)

    def __iter__(self) -> Iterator[str]:
        yield self.first[0]
        for _region, choices in self.groups:
            yield from (value for value, _label in choices)

    def __len__(self) -> int:
        return 1 + sum(len(choices) for _region, choices in self.groups)


def _zone_tab() -> str | None:
    try:
        return (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        pass
    for folder in zoneinfo.TZPATH:
        path = Path(folder) / "zone.tab"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def canonical_zones() -> list[str]:
    """Canonical zone names, from zone.tab (column 3); the filtered full list without it."""
    text = _zone_tab()
    if text is None:
        return sorted(z for z in zoneinfo.available_timezones() if "/" in z and "Etc/" not in z)
    zones = {
        columns[2]
        for line in text.splitlines()
        if line.strip() and not line.startswith("#") and len(columns := line.split("\t")) >= 3
    }
    return sorted(zones)


def _label(rest: str) -> str:
    """`Argentina/Buenos_Aires` → `Argentina / Buenos Aires`: the city as people write it."""
    return " / ".join(part.replace("_", " ") for part in rest.split("/"))


@cache
def timezone_list() -> TimezoneList:
    by_region: dict[str, list[Choice]] = {}
    for zone in canonical_zones():
        region, _, rest = zone.partition("/")
        by_region.setdefault(region, []).append((zone, _label(rest)))
    groups = tuple(
        (region, tuple(sorted(choices, key=lambda c: c[1])))
        for region, choices in sorted(by_region.items())
    )
    return TimezoneList(groups)
