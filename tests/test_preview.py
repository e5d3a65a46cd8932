"""`digest preview`: one .html/.txt/.eml per reader plus an index, exactly what send would send."""

from __future__ import annotations

import email
import email.policy
import os
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from digest.app.edition import EditionBuilder
from digest.app.preview import slug_for, write_previews
from digest.app.tokens import Signer, digest_links
from digest.cli import run
from digest.deliver.message import compose
from digest.models import Paper, Profile, Topic
from digest.render import Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.papers import upsert_papers
from digest.store.schema import DeliveryRow
from digest.store.subscribers import create, list_subscribers
from digest.web.preview_server import PreviewState, create_preview_app
from tests.conftest import TEST_SECRET
from tests.render_samples import HOSTILE_ABSTRACT, HOSTILE_TITLE
from tests.render_samples import paper as sample_paper
from tests.websupport import serve

NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = Topic("Speculative decoding", "speculative decoding")


def populate(store: Store) -> None:
    papers = [sample_paper(n, first_seen=None) for n in range(1, 26)]
    papers.append(
        Paper(
            id="2510.99999",
            title="Speculative decoding " + HOSTILE_TITLE,
            abstract=HOSTILE_ABSTRACT,
            upvotes=500,
            url="https://huggingface.co/papers/2510.99999",
        )
    )
    with store.session() as session:
        upsert_papers(session, papers, NOW - timedelta(hours=2))
        for address, cap in (
            ("ada@example.org", 10),
            ("Ada@Example.net", 25),
            ("bo@example.org", 3),
        ):
            profile = Profile(email=address, name="Reader", topics=(TOPIC,), max_papers=cap)
            create(session, profile, status="active", origin="import", now=NOW)
        create(
            session,
            Profile(email="gone@example.org", topics=(TOPIC,)),
            status="unsubscribed",
            origin="import",
            now=NOW,
        )


@pytest.fixture
def settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings()  # type: ignore[no-any-return]


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[site]\nbase_url = "https://digest.example.org"\n'
        f'secret_key = ["{TEST_SECRET}"]\n',
        encoding="utf-8",
    )
    return path


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_every_preview_is_a_valid_message_with_its_parts_beside_it(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    populate(store)
    out = tmp_path / "previews"
    written = write_previews(store, settings, out, now=NOW)
    emls = sorted(out.glob("*.eml"))
    assert len(emls) == 3  # active readers only
    assert written.previews == 3 and written.index == out / "index.html"
    assert len(list(out.iterdir())) == 10
    for eml in emls:
        data = eml.read_bytes()
        assert max(len(line) for line in data.split(b"\r\n")) <= 998
        message = parse(data)
        assert not message.defects
        assert message.get_content_type() == "multipart/alternative"
        plain, rich = message.iter_parts()
        assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
        assert plain.get_content_type() == "text/plain"
        assert rich.get_content_type() == "text/html"
        assert plain.get_content_charset() == rich.get_content_charset() == "utf-8"
        html_file = eml.with_suffix(".html").read_text(encoding="utf-8")
        text_file = eml.with_suffix(".txt").read_text(encoding="utf-8")
        assert rich.get_content().replace("\r\n", "\n") == html_file
        assert plain.get_content().replace("\r\n", "\n") == text_file
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_hostile_paper_text_is_escaped_in_previews(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    populate(store)
    write_previews(store, settings, tmp_path / "p", now=NOW, subscriber="ada@example.net")
    html = (tmp_path / "p" / "ada-example-net.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{ 7*7 }}" in html and "😀" in html


def test_size_limits_for_ten_and_twenty_five_papers(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    populate(store)
    out = tmp_path / "p"
    write_previews(store, settings, out, now=NOW)
    ten = parse((out / "ada-example-org.eml").read_bytes())
    twenty_five = parse((out / "ada-example-net.eml").read_bytes())
    assert (out / "ada-example-org.html").read_text().count('class="title"') == 10
    assert (out / "ada-example-net.html").read_text().count('class="title"') == 25
    assert len((out / "ada-example-org.html").read_bytes()) < 60_000
    assert len((out / "ada-example-net.html").read_bytes()) < 100_000
    assert ten["Subject"] and twenty_five["Subject"]


def test_a_preview_is_exactly_the_message_send_would_build(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Signed links carry their signing second: hold the clock so both sides sign alike.
    monkeypatch.setattr(time, "time", lambda: 1_796_000_000.0)
    populate(store)
    write_previews(store, settings, tmp_path / "p", now=NOW, subscriber="bo@example.org")
    with store.session() as session:
        active = list_subscribers(session, status="active")
        reader = next(s for s in active if s.email == "bo@example.org")
    day = NOW.date()
    builder = EditionBuilder(store, settings, now=NOW)
    edition = builder.build(reader, day, builder.histories([(reader, day)])[reader.id])
    paper_ids = [m.paper.id for m in edition.papers]
    links = digest_links(
        settings, Signer(settings.secret_keys), reader.public_id, paper_ids, edition=day
    )
    sent = compose(edition, settings, links, renderer=Renderer(settings), now=NOW)
    assert (tmp_path / "p" / "bo-example-org.eml").read_bytes() == sent.data


def test_preview_never_writes_the_ledger(store: Store, settings: Settings, tmp_path: Path) -> None:
    populate(store)
    write_previews(store, settings, tmp_path / "p", now=NOW)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryRow)) == 0


def test_cli_writes_previews_and_an_index(
    store: Store, config: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    populate(store)
    out = tmp_path / "out"
    assert run(["--config", str(config), "preview", "--out", str(out), "--date", "2026-11-20"]) == 0
    assert "wrote 3 preview(s)" in capsys.readouterr().out
    index = (out / "index.html").read_text(encoding="utf-8")
    for slug in ("ada-example-org", "ada-example-net", "bo-example-org"):
        assert f'href="{slug}.eml"' in index
    assert "<td>2026-11-20</td><td>Speculative decoding " in index
    assert "gone@example.org" not in index
    message = parse((out / "bo-example-org.eml").read_bytes())
    assert message["Message-ID"].startswith("<2026-11-20.")


def test_cli_previews_one_subscriber(store: Store, config: Path, tmp_path: Path) -> None:
    populate(store)
    out = tmp_path / "out"
    assert (
        run(
            [
                "--config",
                str(config),
                "preview",
                "--out",
                str(out),
                "--subscriber",
                "BO@example.org",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "bo-example-org.eml",
        "bo-example-org.html",
        "bo-example-org.txt",
        "index.html",
    ]


def test_unknown_subscriber_is_a_user_error(
    store: Store, config: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    populate(store)
    assert (
        run(
            [
                "--config",
                str(config),
                "preview",
                "--out",
                str(tmp_path / "o"),
                "--subscriber",
                "x@y.org",
            ]
        )
        == 2
    )
    assert "x@y.org" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_out_folder_under_a_file_is_one_line_naming_the_flag(
    store: Store, config: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    populate(store)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker / "previews"
    assert run(["--config", str(config), "preview", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out: {out}: cannot write there") and err.count("\n") == 1
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_template_error_exits_2_and_writes_nothing(
    store: Store,
    config: Path,
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    populate(store)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.txt.j2").write_text("Hello\n{{ no_such_value }}\n", encoding="utf-8")
    config.write_text(
        config.read_text(encoding="utf-8") + f'[render]\ntemplates_dir = "{templates}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old", encoding="utf-8")
    assert run(["--config", str(config), "preview", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"error: {templates / 'digest.txt.j2'}:2:") and "no_such_value" in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_slugs_are_unique_and_safe() -> None:
    taken: set[str] = set()
    assert slug_for("Ada@Example.org", taken) == "ada-example-org"
    assert slug_for("ada@example.org", taken) == "ada-example-org-2"
    assert slug_for("ada.example@org", taken) == "ada-example-org-3"
    assert slug_for("../../etc/passwd@x.org", taken) == "etc-passwd-x-org"


def test_first_edition_date_defaults_to_each_readers_local_day(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with store.session() as session:
        create(
            session,
            Profile(email="kiri@example.org", timezone="Pacific/Kiritimati", topics=(TOPIC,)),
            status="active",
            origin="import",
            now=NOW,
        )
    instant = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # already 30 Nov in Kiritimati (+14)
    write_previews(store, settings, tmp_path / "p", now=instant)
    message = parse((tmp_path / "p" / "kiri-example-org.eml").read_bytes())
    assert message["Message-ID"].startswith(f"<{date(2026, 11, 30).isoformat()}.")


def test_serve_shows_html_text_and_source_and_reloads_on_template_change(  # type: ignore[no-untyped-def]
    store: Store, make_settings, tmp_path: Path
) -> None:
    populate(store)
    templates = tmp_path / "templates"
    templates.mkdir()
    text_template = templates / "digest.txt.j2"
    text_template.write_text("First version for {{ list_name }}\n", encoding="utf-8")
    state = PreviewState(make_settings(render={"templates_dir": str(templates)}), store)
    with serve(create_preview_app(state)) as base, httpx.Client(base_url=base) as client:
        check_preview_server(state, client, text_template)


def check_preview_server(state: PreviewState, client: httpx.Client, text_template: Path) -> None:
    page = client.get("/?s=bo-example-org")
    assert page.status_code == 200
    assert 'src="/html/bo-example-org"' in page.text and "First version" in page.text
    assert "Mobile" in page.text and "Desktop" in page.text
    assert "multipart/alternative" in client.get("/eml/bo-example-org").text
    html = client.get("/html/bo-example-org")
    assert html.headers["content-security-policy"].startswith("sandbox")
    assert "<!doctype html>" in html.text
    assert client.get("/html/nobody").status_code == 404
    before = client.get("/version").json()["version"]
    assert not state.check_for_changes()

    text_template.write_text("Second version\n", encoding="utf-8")
    os.utime(text_template, (1, 1))  # a different mtime, whatever the clock resolution
    assert state.check_for_changes()
    assert client.get("/version").json() == {"version": before + 1, "error": None}
    assert client.get("/text/bo-example-org").text == "Second version\n"

    text_template.write_text("{{ broken\n", encoding="utf-8")
    os.utime(text_template, (2, 2))
    assert state.check_for_changes()
    status = client.get("/version").json()
    assert "digest.txt.j2:1:" in status["error"]
    assert "digest.txt.j2:1:" in client.get("/").text
    assert client.get("/text/bo-example-org").text == "Second version\n"  # last good render kept


def test_addresses_that_share_a_slug_get_files_of_their_own_and_index_rows(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    populate(store)
    with store.session() as session:
        for address in ("a.b@example.org", "a-b@example.org"):
            profile = Profile(email=address, topics=(TOPIC,))
            create(session, profile, status="active", origin="import", now=NOW)
    out = tmp_path / "p"
    written = write_previews(store, settings, out, now=NOW)
    assert written.previews == 5
    assert {p.name for p in out.glob("a-b-example-org*.eml")} == {
        "a-b-example-org.eml",
        "a-b-example-org-2.eml",
    }
    index = written.index.read_text(encoding="utf-8")
    assert index.count("<tr><td>") == 5
    assert 'href="a-b-example-org-2.html"' in index and "5 digest(s) rendered" in index
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".p-")]  # no staging left
