"""Previews: every reader's digest, built exactly as `digest send` would build and send it.

Each preview is produced by the same `EditionBuilder` (edition rules and ledger reads) and the
same `compose` (the MIME bytes, headers included) as the sender; the `.eml` file IS the message
that would go out, and the `.html`/`.txt` files are its two parts. Nothing is written to the
ledger.

Files are written into a temporary folder beside `out_dir` as each preview renders, and moved in
only when every preview rendered: a template error leaves `out_dir` untouched. Memory stays flat
however many readers there are: the index page's rows are written to a file in that folder as
they come (a one-line summary per reader, never the editions), and a slug's uniqueness is asked
of the folder itself, not of a set of every slug so far.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from digest.app.due import WorkPage, hand_send_pages
from digest.app.edition import EditionBuilder
from digest.app.tokens import Signer, digest_links
from digest.deliver.dkim import DkimSigner
from digest.deliver.message import compose_rendered
from digest.errors import InvalidValue, OutputFolderError, ProfileError, QueryError
from digest.models import Edition, Subscriber
from digest.profiles.cadence import hand_send_edition
from digest.render.renderer import Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.subscribers import get_by_email

log = logging.getLogger(__name__)
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Preview:
    slug: str
    email: str
    edition: Edition
    subject: str
    html: str
    text: str
    eml: bytes

    @property
    def paper_count(self) -> int:
        return len(self.edition.papers)


def slug_for(email: str, taken: set[str]) -> str:
    """A file-name-safe, unique name from an address: ada@example.org → ada-example-org."""
    slug = free_slug(email, taken.__contains__)
    taken.add(slug)
    return slug


def free_slug(email: str, used: Callable[[str], bool]) -> str:
    """The address's slug, numbered (`-2`, `-3`, …) past those `used` says are taken."""
    base = _SLUG_CHARS.sub("-", email.casefold()).strip("-")[:80] or "subscriber"
    slug, n = base, 2
    while used(slug):
        slug, n = f"{base}-{n}", n + 1
    return slug


def _work(
    store: Store, *, now: datetime, subscriber: str | None, edition_date: date | None
) -> Iterator[WorkPage[Subscriber]]:
    """The readers to preview: exactly those a send by hand would serve, or one reader by
    address whatever their status."""
    if subscriber is None:
        yield from hand_send_pages(store, now=now, edition_date=edition_date)
        return
    with store.session() as session:
        reader = get_by_email(session, subscriber)
    if reader is None:
        raise ProfileError(f"no subscriber with address {subscriber!r}")
    profile = reader.profile
    try:
        day = hand_send_edition(profile.cadence, profile.send_time, profile.timezone, now)
    except InvalidValue as exc:
        raise exc.within(f"subscriber {reader.email}") from None
    yield WorkPage(editions=[(reader, edition_date or day)])


def render_previews(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    subscriber: str | None = None,
    edition_date: date | None = None,
    renderer: Renderer | None = None,
    slug: Callable[[str], str] | None = None,
) -> Iterator[Preview]:
    """Every mailable reader's preview (or only `subscriber`, whatever their status), one at a
    time. Template, config and header errors are raised before or while rendering; a reader
    whose stored profile no longer validates is skipped with a warning naming the field.
    `slug` names each preview (default: unique among this run's, kept in a set)."""
    renderer = renderer or Renderer(settings)
    signer = Signer(settings.secret_keys)
    # The .eml is the message as it would be signed: with DKIM on, send signs each message.
    dkim = DkimSigner.from_settings(settings.sender)
    taken: set[str] = set()
    name = slug or (lambda email: slug_for(email, taken))
    builder = EditionBuilder(store, settings, now=now)
    for page in _work(store, now=now, subscriber=subscriber, edition_date=edition_date):
        for bad in page.unschedulable:
            log.warning("%s: not previewed", bad.describe())
        history = builder.histories(page.editions)
        for reader, day in page.editions:
            try:
                edition = builder.build(reader, day, history[reader.id])
            except QueryError as exc:
                log.warning("subscriber %s: %s: not previewed", reader.email, exc)
                continue
            links = digest_links(
                settings,
                signer,
                reader.public_id,
                [m.paper.id for m in edition.papers],
                edition=day,
            )
            message, rendered = compose_rendered(
                edition, settings, links, renderer=renderer, now=now
            )
            yield Preview(
                slug=name(reader.email),
                email=reader.email,
                edition=edition,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                eml=dkim.sign(message.data) if dkim is not None else message.data,
            )


@dataclass(frozen=True, slots=True)
class Written:
    """What `write_previews` left in the folder."""

    out_dir: Path
    previews: int

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"


def write_previews(
    store: Store,
    settings: Settings,
    out_dir: Path,
    *,
    now: datetime,
    subscriber: str | None = None,
    edition_date: date | None = None,
) -> Written:
    """Write `<slug>.html`, `<slug>.txt`, `<slug>.eml` per reader and an `index.html`. All or
    nothing: nothing reaches `out_dir` unless every preview rendered."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputFolderError(f"{out_dir} exists and is not a folder")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    except OSError as exc:  # a parent that is a file, a folder we may not write to
        raise OutputFolderError(f"{out_dir}: cannot write there ({exc.strerror})") from None
    rows_file = Path(tempfile.mkstemp(prefix=f".{out_dir.name}-index-", dir=out_dir.parent)[1])
    try:
        count = 0
        with rows_file.open("w", encoding="utf-8") as rows:
            for preview in render_previews(
                store,
                settings,
                now=now,
                subscriber=subscriber,
                edition_date=edition_date,
                slug=lambda email: free_slug(email, lambda s: (staging / f"{s}.eml").exists()),
            ):
                (staging / f"{preview.slug}.html").write_text(preview.html, encoding="utf-8")
                (staging / f"{preview.slug}.txt").write_text(preview.text, encoding="utf-8")
                (staging / f"{preview.slug}.eml").write_bytes(preview.eml)
                rows.write(index_row(preview) + "\n")
                count += 1
        with (staging / "index.html").open("w", encoding="utf-8") as index:
            head, tail = index_page(count, settings, now).split(_ROWS)
            index.write(head)
            with rows_file.open(encoding="utf-8") as rows:
                shutil.copyfileobj(rows, index)
            index.write(tail)
        out_dir.mkdir(exist_ok=True)
        with os.scandir(staging) as entries:
            for entry in entries:
                if entry.name != "index.html":
                    Path(entry.path).replace(out_dir / entry.name)
        (staging / "index.html").replace(out_dir / "index.html")  # last: the folder is complete
        return Written(out_dir, count)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        rows_file.unlink(missing_ok=True)


def index_row(preview: Preview) -> str:
    """One reader's line on the index page: what it needs of the preview, and nothing kept."""
    e = html.escape
    p = preview
    return (
        f"<tr><td>{e(p.email)}</td><td>{p.edition.date.isoformat()}</td>"
        f"<td>{e(p.subject)}</td><td class=n>{p.paper_count}</td>"
        f"<td class=n>{len(p.edition.trending)}</td>"
        f'<td><a href="{e(p.slug)}.html">HTML</a> · <a href="{e(p.slug)}.txt">text</a> · '
        f'<a href="{e(p.slug)}.eml">.eml</a></td></tr>'
    )


_ROWS = "\x00rows\x00"


def index_page(count: int, settings: Settings, now: datetime, rows: str = _ROWS) -> str:
    """A plain page linking every preview, with its subject and paper count (`index_row`)."""
    e = html.escape
    title = f"{e(settings.digest.list_name)} previews"
    dkim_on = settings.sender.dkim_selector is not None
    signed = ", each .eml signed with DKIM as it would be" if dkim_on else ""
    resigned = " and signs it (DKIM) then" if dkim_on else ""
    return f"""<!doctype html>
<html lang="{e(settings.site.lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .3rem .7rem; text-align: left; }}
tr:nth-child(even) {{ background: #f2f4f7; }} .n {{ text-align: right; }}
</style></head><body>
<h1>{title}</h1>
<p>{count} digest(s) rendered {e(now.isoformat(timespec="seconds"))}, exactly as
<code>digest send</code> would send them now{signed}. Nothing was sent or recorded.
<code>digest send</code> writes <code>Date</code> at the moment it hands each message to the
mail server{resigned}.</p>
<table><thead><tr><th>Subscriber</th><th>Edition</th><th>Subject</th><th>Papers</th>
<th>Trending</th><th>Files</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""
