"""`digest subscribers import` streams: profiles are read one `[[subscribers]]` table at a time
and stored in batches, with the same answers (and the same FILE:LINE errors) as reading whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.models import Topic
from digest.profiles import read_profiles
from digest.profiles.stream import iter_profiles
from digest.store import Store
from digest.store import subscribers as repo
from digest.store.profile_import import import_batch
from tests.conftest import ROOT, Cli
from tests.test_profiles import listed, write
from tests.test_store_subscribers import NOW, profile


def many(count: int, *, bad: frozenset[int] = frozenset(), first: int = 0) -> str:
    tables = []
    for n in range(first, first + count):
        zone = "Nowhere/Land" if n in bad else "Europe/Paris"
        tables.append(
            f'# reader {n}\n[[subscribers]]\nemail = "r{n}@example.org"\ntimezone = "{zone}"\n'
            f'[[subscribers.topics]]\nname = "T"\nquery = "topic {n}"\n'
        )
    return "\n".join(tables)


@pytest.mark.parametrize(
    "text",
    [
        '[[subscribers]]\nemail = "a@example.org"\n\n[[subscribers]]\nemail = "b@example.org"'
        '\n[[subscribers.topics]]\nname = "X"\nquery = "NOT"\n',
        '# team\n\n[[subscribers]]\nemail = "a@example.org"\n[[subscribers]]\nemail = "b@x"\n',
        'email = "a@example.org"\nmax_papers = 0\n',
        'owner = "me"\n[[subscribers]]\nemail = "a@example.org"\n',
        '[[subscribers]]\nemail = "a@example.org"\ncolour = "blue"\n',
        '[[subscribers]]\nemail = "a@example.org"\nmax_papers = \n',
    ],
)
def test_streaming_reads_what_the_whole_file_reader_reads(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "p.toml", text)
    whole = [(r.profile, str(r.error)) for r in read_profiles(path)]
    streamed = [(r.profile, str(r.error)) for r in iter_profiles(path)]
    if "max_papers = \n" in text:  # invalid TOML: the stream rejects that table alone
        assert streamed[0][1] == whole[0][1]
    else:
        assert streamed == whole


def test_the_shipped_examples_stream_as_they_read() -> None:
    folder = ROOT / "subscribers"
    assert [r.profile for r in iter_profiles(folder)] == [r.profile for r in read_profiles(folder)]


def test_invalid_toml_in_one_table_rejects_that_profile_only(tmp_path: Path) -> None:
    text = (
        many(2) + '\n[[subscribers]]\nemail = "x@example.org"\nmax_papers = \n\n' + many(1, first=9)
    )
    path = write(tmp_path, "p.toml", text)
    results = list(iter_profiles(path))
    assert [r.profile.email for r in results if r.profile] == [
        "r0@example.org",
        "r1@example.org",
        "r9@example.org",
    ]
    [error] = [str(r.error) for r in results if r.error]
    line = text.splitlines().index("max_papers = ") + 1
    assert error.startswith(f"{path}:{line}: invalid TOML")


def test_a_large_file_imports_in_batches_skipping_the_bad_profiles(
    digest: Cli, tmp_path: Path
) -> None:
    path = write(tmp_path, "team.toml", many(1_203, bad=frozenset({7, 800})))
    code, out, err = digest("subscribers", "import", str(path))
    assert code == 2
    text_lines = path.read_text().splitlines()
    bad_lines = [n + 1 for n, line in enumerate(text_lines) if "Nowhere/Land" in line]
    assert [line.split("; expected")[0] for line in err.splitlines()] == [
        f"error: {path}:{n}: timezone: unknown time zone 'Nowhere/Land'" for n in bad_lines
    ]
    assert out == f"1201 profiles imported from {path}: 1201 new, 0 updated; 2 rejected.\n"
    emails = [s["email"] for s in listed(digest)]
    assert len(emails) == 1_201 and "r7@example.org" not in emails

    write(tmp_path, "again.toml", many(3, first=1_201) + "\n" + many(1, first=1_201))
    code, out, err = digest("subscribers", "import", str(tmp_path / "again.toml"))
    assert (code, err) == (0, "")
    assert out.endswith(f"4 profiles imported from {tmp_path / 'again.toml'}: 1 new, 3 updated.\n")


def test_a_batch_follows_the_one_at_a_time_rules(store: Store) -> None:
    """Suppressed addresses arrive bounced, pending readers become active, unsubscribed ones
    stay so, and the address is matched whatever its case."""
    with store.session() as session:
        repo.suppress(session, "gone@example.org", "550 no such user", NOW)
        pending = repo.create(session, profile("wait@example.org"), status="pending",
                              origin="web", now=NOW)  # fmt: skip
        left = repo.import_profile(session, profile("left@example.org"), NOW)[0]
        repo.set_status(session, left, "unsubscribed", NOW)
    batch = [
        profile("Gone@Example.org"),
        profile("WAIT@example.org", topics=(Topic("KV", "kv cache"),)),
        profile("left@example.org"),
        profile("new@example.org"),
        profile("NEW@example.org", name="Again"),
    ]
    with store.session() as session:
        entries = [(p, "active") for p in batch]
        assert import_batch(session, entries, NOW) == [True, False, False, True, False]
    with store.session() as session:
        found = {s.email.casefold(): s for s in repo.list_subscribers(session)}
    assert {email: s.status for email, s in found.items()} == {
        "gone@example.org": "bounced",
        "wait@example.org": "active",
        "left@example.org": "unsubscribed",
        "new@example.org": "active",
    }
    assert found["wait@example.org"].id == pending.id
    assert found["wait@example.org"].profile.topics == (Topic("KV", "kv cache"),)
    assert found["new@example.org"].profile.name == "Again"
    assert found["new@example.org"].profile.topics == profile("x@example.org").topics


def test_one_bad_profile_is_one_line_and_the_stored_reader_is_kept(
    digest: Cli, tmp_path: Path
) -> None:
    path = write(tmp_path, "ada.toml", many(1))
    assert digest("subscribers", "import", str(path))[0] == 0
    path.write_text(many(1, bad=frozenset({0})), encoding="utf-8")
    code, out, err = digest("subscribers", "import", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"error: {path}:4: timezone: unknown time zone 'Nowhere/Land'")
    assert out == f"0 profiles imported from {path}: 0 new, 0 updated; 1 rejected.\n"
    assert [s["timezone"] for s in listed(digest)] == ["Europe/Paris"]
