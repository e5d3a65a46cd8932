"""Time zone names: the IANA zones a reader or the scheduler can live in, and nothing else.

`ZoneInfo` also opens whatever file the system's zone folder holds under a name: `Factory` (a
placeholder zone whose abbreviation is "-00"), `localtime` (whatever this machine is set to, so
a reader's schedule would change with the server), `posixrules`, and the `posix/` and `right/`
copies (the latter counts leap seconds). Only the names `zoneinfo.available_timezones()` lists,
minus those placeholders, are accepted.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from digest.errors import InvalidValue

NOT_A_PLACE = frozenset({"Factory", "localtime", "posixrules"})


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    """Walking the zone folders takes milliseconds; do it once per process."""
    return frozenset(available_timezones()) - NOT_A_PLACE


def parse_zone(value: str) -> ZoneInfo:
    """The zone named `value`, or InvalidValue saying an IANA name such as Europe/Paris is
    expected."""
    if value in _known():
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidValue(f"unknown time zone {value!r}; expected an IANA name such as Europe/Paris")
