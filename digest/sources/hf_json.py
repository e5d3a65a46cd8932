"""`hf-json`: the Daily Papers API response (`https://huggingface.co/api/daily_papers`).

A JSON array of entries `{"paper": {...}, "numComments", "submittedBy", ...}`; a bare paper object
(`/api/papers/<id>`) or an array of them is accepted too. Titles and summaries arrive hard-wrapped
with embedded newlines and are whitespace-normalised. Shape errors name the JSON path
(`$[3].paper.title`) and syntax errors the line and column, so a truncated download is obvious.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from functools import partial
from typing import Any

from digest.errors import SourceError, map_value_errors
from digest.identity import extract_arxiv_id, normalise_whitespace, paper_id
from digest.models import Paper
from digest.sources.base import ParseContext, decode_text, strip_bom
from digest.sources.limits import admit, check_source_id

EXPECTED = 'the Daily Papers API JSON (an array of {"paper": {"id", "title", ...}})'


class _Shape:
    """Typed access to untrusted JSON that reports the path of the first surprise."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, path: str, message: str) -> SourceError:
        return SourceError(f"{self.name}: {path}: {message}")

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_kind(value)}")
        return value

    def text(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool) -> str | None:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(f"{path}.{key}", "missing; expected a string")
            return None
        if not isinstance(value, str):
            raise self.fail(f"{path}.{key}", f"expected a string, got {_kind(value)}")
        return normalise_whitespace(value)

    def count(self, parent: Mapping[str, Any], key: str, path: str) -> int | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"{path}.{key}", f"expected a non-negative integer, got {value!r}")
        return value

    def day(self, parent: Mapping[str, Any], key: str, path: str) -> date | None:
        value = self.text(parent, key, path, required=False)
        if not value:
            return None
        with map_value_errors(
            value=value,
            expected="an ISO date such as 2024-10-22T17:59:30Z",
            error=partial(self.fail, f"{path}.{key}"),
        ):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _authors(shape: _Shape, paper: Mapping[str, Any], path: str) -> tuple[str, ...]:
    raw = paper.get("authors")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise shape.fail(f"{path}.authors", f"expected an array, got {_kind(raw)}")
    names: list[str] = []
    for index, author in enumerate(raw):
        where = f"{path}.authors[{index}]"
        if isinstance(author, str):
            name: str | None = normalise_whitespace(author)
        else:
            name = shape.text(shape.obj(author, where), "name", where, required=True)
        if name:
            names.append(name)
    return tuple(names)


def _organization(shape: _Shape, *holders: tuple[Mapping[str, Any], str]) -> str | None:
    for holder, path in holders:
        org = holder.get("organization")
        if org is None:
            continue
        if isinstance(org, str):
            return normalise_whitespace(org) or None
        found = shape.obj(org, f"{path}.organization")
        where = f"{path}.organization"
        return shape.text(found, "fullname", where, required=False) or shape.text(
            found, "name", where, required=False
        )
    return None


def _submitter(shape: _Shape, *holders: tuple[Mapping[str, Any], str, str]) -> str | None:
    for holder, key, path in holders:
        person = holder.get(key)
        if person is None:
            continue
        found = shape.obj(person, f"{path}.{key}")
        where = f"{path}.{key}"
        return shape.text(found, "fullname", where, required=False) or shape.text(
            found, "name", where, required=False
        )
    return None


def _entry(shape: _Shape, item: Any, path: str) -> Paper:
    entry = shape.obj(item, path)
    if "paper" in entry:
        paper_path = f"{path}.paper"
        paper = shape.obj(entry["paper"], paper_path)
    else:
        paper_path, paper = path, entry
    raw_id = check_source_id(
        shape.text(paper, "id", paper_path, required=True) or "", f"{shape.name}: {paper_path}.id"
    )
    arxiv_id = extract_arxiv_id(raw_id)
    title = shape.text(paper, "title", paper_path, required=False) or shape.text(
        entry, "title", path, required=True
    )
    assert title is not None
    if not title:
        raise shape.fail(f"{paper_path}.title", "empty; expected the paper's title")
    summary = shape.text(paper, "summary", paper_path, required=False) or ""
    comments = shape.count(entry, "numComments", path)
    if comments is None:
        comments = shape.count(paper, "numComments", paper_path)
    authors = _authors(shape, paper, paper_path)
    keys = {"abstract": "summary", "author_count": "authors", "submitter": "submittedBy"}
    candidate = Paper(
        id=paper_id(arxiv_id, title),
        title=title,
        abstract=summary,
        authors=authors,
        author_count=len(authors) or None,
        organization=_organization(shape, (paper, paper_path), (entry, path)),
        published=shape.day(paper, "publishedAt", paper_path)
        or shape.day(entry, "publishedAt", path),
        upvotes=shape.count(paper, "upvotes", paper_path),
        comments=comments,
        submitter=_submitter(
            shape, (entry, "submittedBy", path), (paper, "submittedOnDailyBy", paper_path)
        ),
        arxiv_id=arxiv_id,
        # Built from the extracted id, never the raw field: that is free text from the feed.
        url=f"https://huggingface.co/papers/{arxiv_id}" if arxiv_id else None,
    )
    return admit(candidate, lambda field: f"{shape.name}: {paper_path}.{keys.get(field, field)}")


class HfJsonFormat:
    name = "hf-json"
    description = "Daily Papers API JSON"

    def sniff(self, data: bytes) -> bool:
        # An array of objects or one object: `[{`, `[]`, `{"`, `{}`; not a TOML `[section]`.
        head = b"".join(strip_bom(data[:4096]).split())
        return head[:2] in (b"[{", b"[]", b'{"', b"{}")

    def parse(self, data: bytes, context: ParseContext) -> list[Paper]:
        name = context.name
        text = decode_text(data, name, EXPECTED)
        if not text.strip():
            raise SourceError(f"{name}: empty file; expected {EXPECTED}")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated")
            problem = f"{exc.msg}: the document ends early, truncated?" if truncated else exc.msg
            raise SourceError(
                f"{name}: line {exc.lineno} column {exc.colno}: invalid JSON ({problem}); "
                f"expected {EXPECTED}"
            ) from None
        except RecursionError:
            raise SourceError(f"{name}: JSON nested too deeply; expected {EXPECTED}") from None
        shape = _Shape(name)
        if isinstance(document, dict):
            items: list[Any] = [document]
            paths = ["$"]
        elif isinstance(document, list):
            items = document
            paths = [f"$[{index}]" for index in range(len(items))]
        else:
            raise shape.fail("$", f"expected an array of papers, got {_kind(document)}")
        return [_entry(shape, item, path) for item, path in zip(items, paths, strict=True)]


FORMAT = HfJsonFormat()
