"""Previews: every reader's digest, built exactly as `digest send` would build and send it.

Each preview is produced by the same `EditionBuilder` (edition rules and ledger reads) and the
same `compose` (the MIME bytes, headers included) as the sender; the `.eml` file IS the message
that would go out, and the `.html`/`.txt` files are its two parts. Nothing is written to the
ledger.

Files are written into a temporary folder beside `out_dir` and moved in only when every preview
rendered: a template error leaves `out_dir` untouched, while memory stays flat however many
readers there are.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from digest.app.due import WorkPage, hand_send_pages
from digest.app.edition import EditionBuilder
from digest.app.tokens import Signer, digest_links
from digest.deliver.dkim import DkimSigner
from digest.deliver.message import compose_rendered
from digest.errors import ConfigError, InvalidValue, ProfileError, QueryError
from digest.models import Edition
from digest.profiles.cadence import hand_send_edition
from digest.render.renderer import Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.subscribers import get_row_by_email, to_subscriber

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
    base = _SLUG_CHARS.sub("-", email.casefold()).strip("-")[:80] or "subscriber"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _work(
    store: Store, *, now: datetime, subscriber: str | None, edition_date: date | None
) -> Iterator[WorkPage]:
    """The readers to preview: exactly those a send by hand would serve, or one reader by
    address whatever their status."""
    if subscriber is None:
        yield from hand_send_pages(store, now=now, edition_date=edition_date)
        return
    with store.session() as session:
        row = get_row_by_email(session, subscriber)
        if row is None:
            raise ProfileError(f"no subscriber with address {subscriber!r}")
        reader = to_subscriber(row)
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
) -> Iterator[Preview]:
    """Every mailable reader's preview (or only `subscriber`, whatever their status), one at a
    time. Template, config and header errors are raised before or while rendering; a reader
    whose stored profile no longer validates is skipped with a warning naming the field."""
    renderer = renderer or Renderer(settings)
    signer = Signer(settings.secret_keys)
    # The .eml is the message as it would be signed: with DKIM on, send signs each message.
    dkim = DkimSigner.from_settings(settings.sender)
    taken: set[str] = set()
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
                slug=slug_for(reader.email, taken),
                email=reader.email,
                edition=edition,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                eml=dkim.sign(message.data) if dkim is not None else message.data,
            )


def write_previews(
    store: Store,
    settings: Settings,
    out_dir: Path,
    *,
    now: datetime,
    subscriber: str | None = None,
    edition_date: date | None = None,
) -> list[Path]:
    """Write `<slug>.html`, `<slug>.txt`, `<slug>.eml` per reader and an `index.html`; return
    the paths written (index last). All or nothing."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out: {out_dir} exists and is not a folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        rows: list[Preview] = []
        names: list[str] = []
        for preview in render_previews(
            store, settings, now=now, subscriber=subscriber, edition_date=edition_date
        ):
            (staging / f"{preview.slug}.html").write_text(preview.html, encoding="utf-8")
            (staging / f"{preview.slug}.txt").write_text(preview.text, encoding="utf-8")
            (staging / f"{preview.slug}.eml").write_bytes(preview.eml)
            names += [f"{preview.slug}.html", f"{preview.slug}.txt", f"{preview.slug}.eml"]
            # Keep only what the index needs, not every rendered mail.
            rows.append(
                Preview(preview.slug, preview.email, preview.edition, preview.subject, "", "", b"")
            )
        (staging / "index.html").write_text(index_page(rows, settings, now), encoding="utf-8")
        names.append("index.html")
        out_dir.mkdir(exist_ok=True)
        written = []
        for name in names:
            target = out_dir / name
            (staging / name).replace(target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def index_page(previews: list[Preview], settings: Settings, now: datetime) -> str:
    """A plain page linking every preview, with its subject and paper count."""
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{e(p.email)}</td><td>{p.edition.date.isoformat()}</td>"
        f"<td>{e(p.subject)}</td><td class=n>{p.paper_count}</td>"
        f"<td class=n>{len(p.edition.trending)}</td>"
        f'<td><a href="{e(p.slug)}.html">HTML</a> · <a href="{e(p.slug)}.txt">text</a> · '
        f'<a href="{e(p.slug)}.eml">.eml</a></td></tr>'
        for p in previews
    )
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
<p>{len(previews)} digest(s) rendered {e(now.isoformat(timespec="seconds"))}, exactly as
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
