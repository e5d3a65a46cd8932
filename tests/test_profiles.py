"""Subscriber profiles: the TOML format, its validation, and `digest subscribers import/list`."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from digest.errors import ProfileError
from digest.models import Profile, Topic
from digest.profiles import ProfileFieldError, load_profiles, profile_from_mapping
from tests.conftest import ROOT, Cli

ADA = """\
email = "ada@example.org"
name = "Ada"
timezone = "Europe/Paris"
cadence = "daily"
send_time = "08:00"
max_papers = 10
min_upvotes = 0
trending = true

[[topics]]
name = "Speculative decoding"
query = 'speculative decoding OR "speculative sampling"'
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def test_a_profile_file_loads_with_every_key(tmp_path: Path) -> None:
    [profile] = load_profiles(write(tmp_path, "ada.toml", ADA))
    assert profile == Profile(
        email="ada@example.org",
        name="Ada",
        timezone="Europe/Paris",
        cadence="daily",
        send_time="08:00",
        max_papers=10,
        min_upvotes=0,
        trending=True,
        topics=(Topic("Speculative decoding", 'speculative decoding OR "speculative sampling"'),),
    )


def test_absent_optional_keys_take_the_profile_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "min.toml", 'email = "min@example.org"\n')
    assert load_profiles(path) == [Profile(email="min@example.org")]


def test_many_subscribers_in_one_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "team.toml",
        """\
        [[subscribers]]
        email = "a@example.org"
        cadence = "weekly:mon"

        [[subscribers.topics]]
        name = "MoE"
        query = "moe"

        [[subscribers]]
        email = "b@example.org"
        topics = [{ name = "KV", query = "kv cache" }]
        """,
    )
    profiles = load_profiles(path)
    assert [(p.email, p.cadence, p.topics) for p in profiles] == [
        ("a@example.org", "weekly:mon", (Topic("MoE", "moe"),)),
        ("b@example.org", "daily", (Topic("KV", "kv cache"),)),
    ]


def test_the_shipped_examples_are_valid() -> None:
    profiles = load_profiles(ROOT / "subscribers")
    assert 4 <= len(profiles) <= 6
    assert {p.timezone for p in profiles} >= {"Europe/Paris", "America/New_York", "Asia/Tokyo"}
    assert {"daily"} < {p.cadence for p in profiles}
    assert all(p.email.endswith(("@example.org", "@example.com")) for p in profiles)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('email = "not-an-address"\n', 1, "email: 'not-an-address' is not a valid address"),
        ('name = "x"\n', 1, 'missing key "email"'),
        ('email = "a@example.org"\n\ncolour = "blue"\n', 3, 'unknown key "colour"'),
        ('email = "a@example.org"\ntimezone = "Mars/Olympus"\n', 2, "timezone: unknown time zone"),
        ('email = "a@example.org"\ntimezone = "Factory"\n', 2, "timezone: unknown time zone"),
        ('email = "a@example.org"\ntimezone = "localtime"\n', 2, "timezone: unknown time zone"),
        ('email = "üser@example.org"\n', 1, "email: 'üser@example.org' has a non-ASCII local"),
        ('email = "a@example.org"\ncadence = "hourly"\n', 2, "cadence: expected 'daily' or"),
        ('email = "a@example.org"\ncadence = "weekly:xyz"\n', 2, "cadence: expected"),
        ('email = "a@example.org"\nsend_time = "25:00"\n', 2, "send_time: expected HH:MM"),
        ('email = "a@example.org"\nmax_papers = 0\n', 2, "max_papers: expected a whole number"),
        ('email = "a@example.org"\nmax_papers = 1000\n', 2, "max_papers: expected a whole"),
        ('email = "a@example.org"\nmin_upvotes = -1\n', 2, "min_upvotes: expected a whole"),
        ('email = "a@example.org"\nmax_papers = true\n', 2, "max_papers: expected a whole"),
        ('email = "a@example.org"\ntrending = "yes"\n', 2, "trending: expected true or false"),
        ('email = "a@example.org"\ntrending = false\n', 1, "no topics and trending = false"),
        ('email = "a@example.org"\nmax_papers = \n', 2, "invalid TOML"),
        (
            'email = "a@example.org"\n\n[[topics]]\nname = "KV"\nquery = "kv (cache"\n',
            5,
            'topic "KV": query: column 4: unclosed "("',
        ),
        (
            'email = "a@example.org"\n[[topics]]\nname = "A"\nquery = "a"\n'
            '[[topics]]\nname = "B"\nquery = "foo:bar"\n',
            7,
            'topic "B": query: column 1: unknown field "foo:"',
        ),
        ('email = "a@example.org"\n[[topics]]\nname = "A"\n', 2, 'topic 1: missing key "query"'),
        (
            'email = "a@example.org"\n[[topics]]\nname = "A"\nquery = "a"\nweight = 2\n',
            5,
            'unknown key "weight" in a topic',
        ),
        (
            'email = "a@example.org"\n[[topics]]\nname = "A"\nquery = "a"\n'
            '[[topics]]\nname = "a"\nquery = "b"\n',
            6,
            'topic name: "a" is used twice',
        ),
        (
            '[[subscribers]]\nemail = "a@example.org"\n\n[[subscribers]]\nemail = "b@example.org"'
            '\n[[subscribers.topics]]\nname = "X"\nquery = "NOT"\n',
            8,
            'topic "X": query: column 1: "NOT" needs a term after it',
        ),
    ],
)
def test_a_bad_profile_is_reported_by_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ProfileError) as caught:
        load_profiles(path)
    assert str(caught.value).startswith(f"{path}:{line}: {message}")


def test_profile_from_mapping_names_the_field_for_forms() -> None:
    with pytest.raises(ProfileFieldError) as caught:
        profile_from_mapping(
            {"email": "a@example.org", "topics": [{"name": "KV", "query": "kv (cache"}]},
            where="form",
        )
    assert caught.value.field == "topics[0].query"
    assert str(caught.value) == 'form: topics[0].query: topic "KV": query: column 4: unclosed "("'


def test_a_missing_path_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such file or folder"):
        load_profiles(tmp_path / "nowhere.toml")


# -- the commands ------------------------------------------------------------------------------


def listed(digest: Cli) -> list[dict[str, object]]:
    code, out, err = digest("subscribers", "list", "--json")
    assert (code, err) == (0, "")
    result: list[dict[str, object]] = json.loads(out)
    return result


def test_import_then_list_as_json(digest: Cli, tmp_path: Path) -> None:
    code, out, err = digest("subscribers", "import", str(write(tmp_path, "ada.toml", ADA)))
    assert (code, err) == (0, "")
    assert "1 new" in out
    assert listed(digest) == [
        {
            "email": "ada@example.org",
            "status": "active",
            "timezone": "Europe/Paris",
            "cadence": "daily",
            "send_time": "08:00",
            "topics": [
                {
                    "name": "Speculative decoding",
                    "query": 'speculative decoding OR "speculative sampling"',
                }
            ],
        }
    ]


def test_importing_again_updates_and_never_duplicates(digest: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "ada.toml", ADA)
    assert digest("subscribers", "import", str(path))[0] == 0
    write(tmp_path, "ada.toml", ADA.replace("08:00", "09:15").replace("ada@", "ADA@"))
    code, out, _ = digest("subscribers", "import", str(path))
    assert code == 0 and "0 new, 1 updated" in out
    [only] = listed(digest)
    assert only["send_time"] == "09:15"


def test_a_folder_with_one_bad_file_imports_the_others(digest: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    write(folder, "a.toml", ADA)
    write(folder, "b.toml", 'email = "b@example.org"\n[[topics]]\nname = "X"\nquery = "(x"\n')
    write(folder, "c.toml", ADA.replace("ada@", "cyd@"))
    write(folder, "notes.txt", "not a profile")
    code, out, err = digest("subscribers", "import", str(folder))
    assert code == 2
    assert f'error: {folder / "b.toml"}:4: topic "X": query: column 1: unclosed "("' in err
    assert "2 new" in out and "1 rejected" in out
    assert [s["email"] for s in listed(digest)] == ["ada@example.org", "cyd@example.org"]


def test_a_bad_profile_in_a_multi_profile_file_leaves_no_partial_rows(
    digest: Cli, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "team.toml",
        """\
        [[subscribers]]
        email = "good@example.org"

        [[subscribers]]
        email = "bad@example.org"
        timezone = "Nowhere/Land"
        """,
    )
    code, _, err = digest("subscribers", "import", str(path))
    assert code == 2
    assert f"{path}:6: timezone: unknown time zone 'Nowhere/Land'" in err
    assert [s["email"] for s in listed(digest)] == ["good@example.org"]


def test_the_shipped_examples_import(digest: Cli) -> None:
    code, _out, err = digest("subscribers", "import", str(ROOT / "subscribers"))
    assert (code, err) == (0, "")
    assert {s["status"] for s in listed(digest)} == {"active"}


def test_list_without_json_is_readable(digest: Cli, tmp_path: Path) -> None:
    digest("subscribers", "import", str(write(tmp_path, "ada.toml", ADA)))
    code, out, _ = digest("subscribers", "list")
    assert code == 0
    assert "ada@example.org" in out and "Europe/Paris" in out and "Speculative decoding" in out


def test_import_refuses_a_non_ascii_local_part_like_the_web_form(
    digest: Cli, tmp_path: Path
) -> None:
    # The sender cannot deliver to it without SMTPUTF8: one policy refuses it where it enters.
    path = write(tmp_path, "u.toml", 'email = "üser@example.org"\n')
    code, _, err = digest("subscribers", "import", str(path))
    assert code == 2
    assert err.splitlines()[0] == (
        f"error: {path}:1: email: 'üser@example.org' has a non-ASCII local part, which needs "
        "SMTPUTF8; not supported"
    )
    assert listed(digest) == []


def test_an_idn_domain_is_accepted(digest: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "idn.toml", 'email = "ada@bücher.example"\n')
    assert digest("subscribers", "import", str(path))[0] == 0
    assert [s["email"] for s in listed(digest)] == ["ada@bücher.example"]
