"""`digest feedback EMAIL PAPER_ID up|down|clear`: a reader's rating, recorded once per paper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.store import Store
from digest.store.ratings import ratings_for
from digest.store.subscribers import get_row_by_email
from tests.conftest import ROOT, Cli

SAMPLE = ROOT / "digest" / "samples" / "daily-papers-sample.txt"
READER = "ada@example.org"


@pytest.fixture
def stored(digest: Cli) -> Cli:
    assert digest("ingest", str(SAMPLE))[0] == 0
    assert digest("subscribers", "import", str(ROOT / "subscribers"))[0] == 0
    return digest


def first_paper(cli: Cli) -> str:
    return str(json.loads(cli("papers", "--json", "--limit", "1")[1])[0]["id"])


def held(store: Store, email: str) -> dict[str, str]:
    with store.session() as session:
        row = get_row_by_email(session, email)
        assert row is not None
        return {r.paper.id: r.rating for r in ratings_for(session, row.id)}


def test_up_down_and_clear_print_the_rating_held(stored: Cli, store: Store) -> None:
    paper = first_paper(stored)
    for choice, expected in (("up", "up"), ("down", "down"), ("clear", None)):
        code, out, err = stored("feedback", READER, paper, choice, "--json")
        assert (code, err) == (0, "")
        assert json.loads(out) == {"email": READER, "paper": paper, "rating": expected}
    assert held(store, READER) == {}


def test_rating_again_replaces_never_duplicates(stored: Cli, store: Store) -> None:
    paper = first_paper(stored)
    for _ in range(3):
        assert stored("feedback", READER, paper, "up")[0] == 0
    assert stored("feedback", READER, paper, "down")[0] == 0
    assert held(store, READER) == {paper: "down"}


def test_the_address_is_matched_case_insensitively(stored: Cli) -> None:
    code, out, _ = stored("feedback", READER.upper(), first_paper(stored), "up", "--json")
    assert code == 0
    assert json.loads(out)["rating"] == "up"


@pytest.mark.parametrize(
    ("email", "paper", "message"),
    [
        ("nobody@example.org", None, "error: no subscriber with address 'nobody@example.org'"),
        (READER, "no-such-paper", "error: no stored paper with id 'no-such-paper'"),
    ],
)
def test_unknown_address_or_paper_is_a_user_error(
    stored: Cli, store: Store, email: str, paper: str | None, message: str
) -> None:
    code, out, err = stored("feedback", email, paper or first_paper(stored), "up", "--json")
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1
    assert held(store, READER) == {}


def test_a_rating_other_than_up_down_clear_is_refused(stored: Cli) -> None:
    code, _out, err = stored("feedback", READER, first_paper(stored), "sideways")
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_removing_a_reader_removes_their_ratings(stored: Cli, store: Store) -> None:
    """Ratings belong to the reader: the foreign key cascades when the subscriber goes."""
    from sqlalchemy import delete, func, select

    from digest.store.schema import RatingRow, SubscriberRow

    assert stored("feedback", READER, first_paper(stored), "up")[0] == 0
    with store.session() as session:
        session.execute(delete(SubscriberRow).where(SubscriberRow.email_key == READER))
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(RatingRow)) == 0


def test_match_subscriber_without_ratings_is_their_topics(stored: Cli) -> None:
    code, out, err = stored("match", "--subscriber", READER, "--json")
    assert (code, err) == (0, "")
    found = json.loads(out)
    profile = ROOT / "subscribers" / "ada-inference.toml"
    topics = json.loads(stored("match", "--profile", str(profile), "--json", "--limit", "100")[1])
    assert [m["id"] for m in found] == [m["id"] for m in topics]
    assert all(set(m) == {"id", "title", "score", "matched"} for m in found)


def test_match_subscriber_leaves_out_what_they_rated_down_and_honours_limit(stored: Cli) -> None:
    before = json.loads(stored("match", "--subscriber", READER, "--json")[1])
    assert len(before) >= 2
    assert stored("feedback", READER, before[0]["id"], "down")[0] == 0
    after = json.loads(stored("match", "--subscriber", READER, "--json")[1])
    assert before[0]["id"] not in [m["id"] for m in after]
    limited = json.loads(stored("match", "--subscriber", READER, "--json", "--limit", "1")[1])
    assert limited == after[:1]


def test_match_subscriber_names_the_liked_paper_it_follows(stored: Cli) -> None:
    """A paper brought in by a rating carries "because"; the shape is otherwise unchanged."""
    papers = json.loads(stored("papers", "--json")[1])
    mine = {m["id"] for m in json.loads(stored("match", "--subscriber", READER, "--json")[1])}
    outside = [p for p in papers if p["id"] not in mine]
    for paper in outside:
        assert stored("feedback", READER, paper["id"], "up")[0] == 0
    found = json.loads(stored("match", "--subscriber", READER, "--json")[1])
    for entry in found:
        for reason in entry.get("because", []):
            assert reason.startswith('like "') and reason.endswith('", which you rated up')


def test_match_subscriber_unknown_address_is_a_user_error(stored: Cli) -> None:
    code, out, err = stored("match", "--subscriber", "nobody@example.org", "--json")
    assert (code, out) == (2, "")
    assert err.strip() == "error: no subscriber with address 'nobody@example.org'"


def test_match_subscriber_explain_says_how_each_of_their_topics_is_read(stored: Cli) -> None:
    code, out, err = stored("match", "--subscriber", READER, "--json", "--explain")
    assert code == 0
    assert json.loads(out) == json.loads(stored("match", "--subscriber", READER, "--json")[1])
    profile = ROOT / "subscribers" / "ada-inference.toml"
    told = stored("match", "--profile", str(profile), "--json", "--explain")[2]
    assert err == told and err.startswith("'")


def test_match_subscriber_matches_with_the_operators_aliases_as_editions_do(
    stored: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aliases = tmp_path / "aliases.txt"
    aliases.write_text("zzqq, speculative decoding\n", encoding="utf-8")
    monkeypatch.setenv("DIGEST_MATCH__ALIASES_FILE", str(aliases))
    profile = tmp_path / "zed.toml"
    profile.write_text(
        'email = "zed@example.org"\n[[topics]]\nname = "Mine"\nquery = "zzqq"\n', encoding="utf-8"
    )
    assert stored("subscribers", "import", str(profile))[0] == 0
    by_query = json.loads(stored("match", "--query", "zzqq", "--json")[1])
    code, out, err = stored("match", "--subscriber", "zed@example.org", "--json")
    assert (code, err) == (0, "")
    assert by_query and [m["id"] for m in json.loads(out)] == [m["id"] for m in by_query]
