"""`digest ingest` and `digest papers`: the command-line contract of DESIGN.md."""

from __future__ import annotations

import json
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from digest.cli.app import run
from digest.cli.demo_run import SAMPLE
from digest.sources import parse
from tests.conftest import shared_file
from tests.ingest_support import API_PAGE, NOW, TEXT_PAGE, stored

PAGE = "daily-papers-page.txt"
API = "hf-daily-papers-api-2024-10-25.json"
FEED = "arxiv-rss-cs.AI-2025-08-20.xml"
PAPER_KEYS = {
    "id",
    "title",
    "abstract",
    "authors",
    "author_count",
    "organization",
    "published",
    "upvotes",
    "url",
}


def sample_bytes() -> bytes:
    """The sample page `digest demo` loads, as installed with the package."""
    return (resources.files("digest") / "samples" / SAMPLE).read_bytes()


@pytest.fixture
def config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("DIGEST_") and key != "DIGEST_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    return path


class Cli:
    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = run(["--config", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert (code, err) == (0, ""), err
        return json.loads(out)


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(config, capsys)


def test_real_page_ingested_twice_changes_nothing(cli: Cli) -> None:
    page = str(shared_file(PAGE))
    assert cli.json("ingest", page, "--page-date", "2025-10-17") == {
        "parsed": 123,
        "new": 123,
        "updated": 0,
    }
    assert cli.json("ingest", page, "--page-date", "2025-10-17") == {
        "parsed": 123,
        "new": 0,
        "updated": 0,
    }
    papers = cli.json("papers")
    assert len(papers) == 123
    assert all(set(paper) == PAPER_KEYS for paper in papers)
    assert sum(p["published"] is not None for p in papers) == 113
    assert sum(p["organization"] is not None for p in papers) == 5
    assert papers[0]["published"] == "2025-10-09"


def test_api_sample_ingested_twice_keeps_its_arxiv_ids(cli: Cli) -> None:
    api = str(shared_file(API))
    assert cli.json("ingest", api) == {"parsed": 29, "new": 29, "updated": 0}
    assert cli.json("ingest", api) == {"parsed": 29, "new": 0, "updated": 0}
    papers = cli.json("papers")
    assert len(papers) == 29
    assert "2410.17243" in {p["id"] for p in papers}
    top = next(p for p in papers if p["id"] == "2410.17243")
    assert top["authors"][0] == "Zesen Cheng"
    assert top["url"] == "https://huggingface.co/papers/2410.17243"


def test_all_three_formats_in_one_run(cli: Cli) -> None:
    sources = [str(shared_file(name)) for name in (PAGE, API, FEED)]
    counts = cli.json("ingest", *sources, "--page-date", "2025-10-17")
    assert counts["parsed"] == 123 + 29 + 7
    assert counts["new"] == len(cli.json("papers"))


@pytest.mark.parametrize("text_first", [True, False])
def test_overlapping_text_and_json_captures_converge(
    cli: Cli, tmp_path: Path, text_first: bool
) -> None:
    text = tmp_path / "page.txt"
    text.write_text(TEXT_PAGE, encoding="utf-8")
    api = tmp_path / "api.json"
    api.write_text(json.dumps(API_PAGE), encoding="utf-8")
    first, second = (text, api) if text_first else (api, text)
    assert cli.json("ingest", str(first), "--page-date", "2025-10-17")["new"] == 2
    counts = cli.json("ingest", str(second), "--page-date", "2025-10-17")
    assert counts["new"] == 0
    papers = {p["title"].split(":")[0].strip(): p for p in cli.json("papers")}
    assert len(papers) == 2
    socratic = papers["Socratic-Zero"]
    assert socratic["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert socratic["organization"] == "alibaba-inc"
    assert socratic["upvotes"] == (1 if text_first is False else 40)
    assert papers["Multi-Draft Speculative Sampling"]["published"] in {"2024-10-14", "2024-10-23"}


def test_papers_newest_and_most_upvoted_first_with_limit(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "page.txt"
    text.write_text(TEXT_PAGE, encoding="utf-8")
    cli.json("ingest", str(text), "--page-date", "2025-10-17")
    papers = cli.json("papers")
    assert [p["published"] for p in papers] == ["2025-09-29", "2024-10-14"]
    assert len(cli.json("papers", "--limit", "1")) == 1


def test_human_output(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "page.txt"
    text.write_text(TEXT_PAGE, encoding="utf-8")
    code, out, err = cli("ingest", str(text), "--page-date", "2025-10-17")
    assert (code, err) == (0, "")
    assert "2 papers read" in out and "2 new" in out
    code, out, _ = cli("papers")
    assert code == 0
    assert "Socratic-Zero" in out and "alibaba-inc" in out


def test_a_source_with_no_papers_is_stored_as_read_with_a_warning(cli: Cli, tmp_path: Path) -> None:
    header_only = tmp_path / "header.txt"
    header_only.write_text("Daily Papers\n\nOct 17\n", encoding="utf-8")
    code, out, err = cli("ingest", str(header_only), "--format", "hf-text")
    assert code == 0 and "0 papers read" in out
    assert err.splitlines() == [f"warning: {header_only}: no papers found in this source"]


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name → (ingest arguments, text the error line must contain)."""
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notes.toml").write_text('[section]\nkey = "value"\n', encoding="utf-8")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "truncated.json").write_text(json.dumps(API_PAGE)[:300], encoding="utf-8")
    (tmp_path / "broken.txt").write_text(TEXT_PAGE.replace("Sep 29 1", "Sepember"), "utf-8")
    (tmp_path / "good.txt").write_text(TEXT_PAGE, encoding="utf-8")
    folder = tmp_path / "folder"
    folder.mkdir()
    t = str(tmp_path)
    return {
        "missing": ([f"{t}/missing.txt"], "missing.txt: no such file"),
        "folder": ([str(folder)], "folder: is a folder"),
        "empty": ([f"{t}/empty.txt"], "empty.txt: empty file"),
        "other format": ([f"{t}/notes.toml"], "notes.toml: cannot tell the format"),
        "binary garbage": ([f"{t}/garbage.bin"], "garbage.bin: binary data"),
        "truncated json": ([f"{t}/truncated.json"], "truncated.json: line 1 column"),
        "broken block": ([f"{t}/broken.txt"], "broken.txt:11: expected a date"),
        "good then bad": ([f"{t}/good.txt", f"{t}/broken.txt"], "broken.txt:11:"),
        "forced wrong format": ([f"{t}/good.txt", "--format", "hf-json"], "good.txt: line 1"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "folder",
        "empty",
        "other format",
        "binary garbage",
        "truncated json",
        "broken block",
        "good then bad",
        "forced wrong format",
    ],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(
    cli: Cli, tmp_path: Path, db_url: str, case: str
) -> None:
    args, expected = _bad_inputs(tmp_path)[case]
    code, out, err = cli("ingest", *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert expected in err
    assert stored(db_url) == 0


def test_bad_page_date_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("ingest", "-", "--page-date", "17/10/2025")
    assert code == 2
    assert "--page-date" in err


def test_bundled_sample_is_a_varied_invented_page() -> None:
    papers = parse(sample_bytes(), name="sample", today=NOW.date())
    assert 25 <= len(papers) <= 40
    assert any(p.organization for p in papers)
    assert any(p.author_count for p in papers)
    assert any(p.published is None for p in papers)
    assert len({p.upvotes for p in papers}) > 10


def test_demo_starts_fresh_each_time(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    secrets_seen = set()
    for _ in range(2):
        assert run(["demo", "--dir", str(folder)]) == 0
        out, err = capsys.readouterr()
        assert err == ""
        assert "Top 10 papers" in out and "Meridian AI" in out
        settings = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
        secrets_seen.add(settings["site"]["secret_key"][0])
        assert run(["--config", str(folder / "config.toml"), "papers", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == len(parse(sample_bytes(), name="s"))
    assert len(secrets_seen) == 2


def test_without_sources_the_configured_ones_are_used(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    code, _, err = cli("ingest")
    assert code == 2
    assert err == "error: no SOURCE given and [ingest] sources is empty; expected a file or URL\n"
    page = tmp_path / "page.txt"
    page.write_text(TEXT_PAGE, encoding="utf-8")
    config.write_text(
        config.read_text(encoding="utf-8") + f"\n[ingest]\nsources = [{json.dumps(str(page))}]\n",
        encoding="utf-8",
    )
    assert cli.json("ingest") == {"parsed": 2, "new": 2, "updated": 0}
