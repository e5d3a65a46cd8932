"""A tiny TOML writer for generated test documents (tomllib reads; nothing in the stdlib writes).

Only what the property suites generate: tables of scalars, arrays of scalars and arrays of
tables. Strings use JSON escapes, which are valid TOML basic-string escapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if math.isnan(item):
            return "nan"
        if math.isinf(item):
            return "inf" if item > 0 else "-inf"
        return repr(item)
    if isinstance(item, str):
        return _string(item)
    if isinstance(item, list):
        return "[" + ", ".join(value(part) for part in item) + "]"
    raise TypeError(f"cannot write {type(item).__name__} as TOML")


def _string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped, the rest as is
    (a `\\uXXXX` escape may not name a surrogate, so characters past U+FFFF stay literal)."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def key(name: str) -> str:
    bare = name.replace("_", "a").replace("-", "a")
    return name if bare.isascii() and bare.isalnum() else _string(name)


def document(data: Mapping[str, Any]) -> str:
    """Scalars first, then one [table] per mapping and [[name]] per list of mappings, nested
    tables under dotted headers ([[subscribers.topics]] belongs to the last [[subscribers]])."""
    lines: list[str] = []
    _write(data, [], lines)
    return "\n".join(lines) + "\n"


def _write(data: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    lines.extend(f"{key(k)} = {value(v)}" for k, v in data.items() if not _is_table(v))
    for name, item in data.items():
        header = ".".join(key(part) for part in [*path, name])
        if isinstance(item, Mapping):
            lines.append(f"[{header}]")
            _write(item, [*path, name], lines)
        elif _is_table_list(item):
            for table in item:
                lines.append(f"[[{header}]]")
                _write(table, [*path, name], lines)


def _is_table_list(item: Any) -> bool:
    return isinstance(item, list) and bool(item) and all(isinstance(t, Mapping) for t in item)


def _is_table(item: Any) -> bool:
    return isinstance(item, Mapping) or _is_table_list(item)
