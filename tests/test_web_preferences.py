"""The preferences page: editing topics and schedule, inline query errors, the live preview."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from digest.app.tokens import Purpose
from digest.models import Topic
from tests.websupport import Site, Sites, csrf_token, paper


@pytest.fixture
def site(sites: Sites) -> Site:
    built = sites()
    built.add_papers(
        [
            paper("2603.00001", "Speculative Decoding for Faster LLM Inference", upvotes=40),
            paper("2603.00002", "Robot Manipulation with Diffusion Policies", upvotes=25),
            paper("2603.00003", "Graph Neural Networks at Scale", upvotes=10),
        ]
    )
    return built


@pytest.fixture
def manage(site: Site) -> str:
    public_id = site.add(
        "ada@example.org",
        topics=(Topic("Large language models", '"language model" OR llm*'), Topic("Mine", "graph")),
    )
    return f"/preferences/{site.token(Purpose.MANAGE, public_id)}"


def _form(page_html: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "csrf_token": csrf_token(page_html),
        "catalog": ["Large language models"],
        "topic_name": ["Mine", ""],
        "topic_query": ["graph", ""],
        "cadence": "daily",
        "send_time": "08:00",
        "timezone": "UTC",
        "max_papers": "10",
        "trending_shown": "1",
        "trending": "on",
    }
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}


def test_the_page_shows_the_current_settings(site: Site, manage: str) -> None:
    page = site.client().get(manage)
    assert page.status_code == 200
    html = page.text
    assert "ada@example.org" in html
    assert re.search(
        r'value="Large language models" id="catalog-(\d+)" '
        r'aria-describedby="catalog-\1-query" checked',
        html,
    )
    assert 'value="Mine"' in html and 'value="graph"' in html
    assert '<option value="daily" selected>' in html
    assert 'id="trending" name="trending" value="on" checked' in html
    assert "/unsubscribe/" in html


def test_saving_changes_the_profile_and_redirects_back(site: Site, manage: str) -> None:
    client = site.client()
    page = client.get(manage)
    response = client.post(
        manage,
        data=_form(
            page.text,
            catalog=["Robotics", "Agents"],
            topic_name=["Decoding", ""],
            topic_query=['"speculative decoding"', ""],
            cadence="weekly:thu",
            send_time="18:45",
            timezone="Asia/Tokyo",
            max_papers="5",
            trending=None,
        ),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{manage}?saved=1"
    profile = site.profile("ada@example.org")
    assert [(t.name, t.query) for t in profile.topics] == [
        ("Robotics", "robot* OR embodied"),
        ("Agents", "agent* OR tool-use"),
        ("Decoding", '"speculative decoding"'),
    ]
    assert (profile.cadence, profile.send_time, profile.timezone) == (
        "weekly:thu",
        "18:45",
        "Asia/Tokyo",
    )
    assert (profile.max_papers, profile.trending, profile.email) == (5, False, "ada@example.org")
    assert "Saved." in client.get(response.headers["location"]).text


def test_a_bad_query_is_shown_beside_its_field_with_the_column(site: Site, manage: str) -> None:
    client = site.client()
    before = site.profile("ada@example.org")
    response = client.post(
        manage, data=_form(client.get(manage).text, topic_query=["graph OR (", ""])
    )
    assert response.status_code == 422
    html = response.text
    assert 'id="topic_query-1-error"' in html
    assert re.search(r"Column \d+:", html)
    assert "<mark>" in html
    assert 'aria-invalid="true"' in html
    assert site.profile("ada@example.org") == before


@pytest.mark.parametrize(
    ("field", "value", "error_id"),
    [
        ("cadence", "weekly:someday", "cadence-error"),
        ("send_time", "24:30", "send_time-error"),
        ("timezone", "Nowhere/Special", "timezone-error"),
        ("timezone", "UTC\nX: y", "timezone-error"),
        ("max_papers", "0", "max_papers-error"),
        ("max_papers", "many", "max_papers-error"),
    ],
)
def test_bad_settings_are_refused_beside_their_field(
    site: Site, manage: str, field: str, value: str, error_id: str
) -> None:
    client = site.client()
    before = site.profile("ada@example.org")
    response = client.post(manage, data=_form(client.get(manage).text, **{field: value}))
    assert response.status_code == 422
    assert f'id="{error_id}"' in response.text
    assert site.profile("ada@example.org") == before


def test_no_topics_and_no_trending_section_is_refused(site: Site, manage: str) -> None:
    client = site.client()
    response = client.post(
        manage,
        data=_form(
            client.get(manage).text, catalog=[], topic_name=[""], topic_query=[""], trending=None
        ),
    )
    assert response.status_code == 422
    assert "at least one topic" in response.text


def test_two_topics_with_one_name_are_refused(site: Site, manage: str) -> None:
    client = site.client()
    response = client.post(
        manage,
        data=_form(
            client.get(manage).text, topic_name=["Mine", "mine"], topic_query=["graph", "robot"]
        ),
    )
    assert response.status_code == 422
    assert "already has this name" in response.text


def test_saving_needs_the_csrf_token(site: Site, manage: str) -> None:
    client = site.client()
    form = _form(client.get(manage).text, cadence="weekly:mon")
    form["csrf_token"] = "0" * 64
    assert client.post(manage, data=form).status_code == 403
    assert site.profile("ada@example.org").cadence == "daily"


# The live preview ------------------------------------------------------------------------------


def _preview(site: Site, manage: str, **params: Any) -> str:
    query = {"trending_shown": "1", "cadence": "daily", "send_time": "08:00", "timezone": "UTC"}
    query.update(params)
    response = site.client().get(f"{manage}/preview", params=query)
    assert response.status_code == 200
    return response.text


def test_the_page_previews_the_saved_settings(site: Site, manage: str) -> None:
    html = site.client().get(manage).text
    preview = html.split('id="preview"', 1)[1]
    assert "Speculative Decoding for Faster LLM Inference" in preview  # llm*
    assert "Graph Neural Networks at Scale" in preview  # graph


def test_the_preview_follows_the_unsaved_topics(site: Site, manage: str) -> None:
    robots = _preview(site, manage, topic_name="Bots", topic_query="robot")
    assert "Robot Manipulation with Diffusion Policies" in robots
    assert "Speculative Decoding" not in robots
    assert 'data-paper-count="1"' in robots

    decoding = _preview(site, manage, topic_query='"speculative decoding"')
    assert "Speculative Decoding for Faster LLM Inference" in decoding
    assert "Robot Manipulation" not in decoding

    nothing = _preview(site, manage, topic_query="quantum", trending="on")
    assert 'data-paper-count="0"' in nothing
    assert "Trending today" in nothing  # the trending section still shows the top papers
    assert site.profile("ada@example.org").topics[1].query == "graph"  # nothing was saved


def test_the_preview_says_how_each_topic_is_read(site: Site, manage: str) -> None:
    html = _preview(site, manage, topic_name="Decoding", topic_query="speculative robot")
    understood = html.split('class="understood"', 1)[1]
    assert "How your topics are read" in understood
    assert "<h4>Decoding</h4>" in understood
    assert "&#39;speculative robot&#39;: plain words" in understood
    assert "<li>speculative: required, in 1 paper</li>" in understood
    assert "<li>robot: required, in 1 paper</li>" in understood
    # A quoted or boolean query is the query language, taken as written.
    quoted = _preview(site, manage, topic_query='"speculative decoding"')
    assert "query language (quotes or operators)" in quoted.split('class="understood"', 1)[1]


def test_the_page_says_how_the_saved_topics_are_read(site: Site, manage: str) -> None:
    html = site.client().get(manage).text
    understood = html.split('class="understood"', 1)[1]
    assert "<h4>Mine</h4>" in understood
    assert "&#39;graph&#39;: plain words" in understood


def test_the_preview_reports_a_bad_query_with_its_column(site: Site, manage: str) -> None:
    html = _preview(site, manage, topic_query='"unclosed phrase')
    assert "column" in html.lower()
    assert "data-paper-count" not in html


def test_the_preview_escapes_paper_text_and_drops_unsafe_links(site: Site, manage: str) -> None:
    site.add_papers(
        [
            paper(
                "2603.00009",
                "Robots <script>alert(1)</script> & friends",
                url="javascript:alert(2)",
            )
        ]
    )
    html = _preview(site, manage, topic_query="robots")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in html
    assert "javascript:" not in html


def test_the_whole_email_preview_is_sandboxed(site: Site, manage: str) -> None:
    response = site.client().get(f"{manage.replace('/preferences/', '/preferences/', 1)}/email")
    assert response.status_code == 200
    assert "Speculative Decoding for Faster LLM Inference" in response.text
    csp = response.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "script-src" not in csp
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_preview_needs_a_valid_manage_token(site: Site, manage: str) -> None:
    public_id = site.row("ada@example.org").public_id  # type: ignore[union-attr]
    unsubscribe_token = site.token(Purpose.UNSUBSCRIBE, public_id)
    assert site.client().get(f"/preferences/{unsubscribe_token}/preview").status_code == 400
    assert site.client().get(f"/preferences/{unsubscribe_token}/email").status_code == 400


def test_previews_are_throttled_per_client(site: Site, manage: str) -> None:
    from digest.web.ratelimit import SlidingWindowLimiter

    site.app.state.web.per_client_preview = SlidingWindowLimiter(
        2, 60.0, lambda: site.clock().timestamp()
    )
    client = site.client()
    statuses = [client.get(f"{manage}/preview").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    site.clock.advance(seconds=61)
    assert client.get(f"{manage}/preview").status_code == 200


def test_the_whole_email_preview_follows_unsaved_settings(site: Site, manage: str) -> None:
    robots = site.client().get(
        f"{manage}/email",
        params={"topic_name": "Bots", "topic_query": "robot", "trending_shown": "1"},
    )
    assert "Robot Manipulation with Diffusion Policies" in robots.text
    assert "Speculative Decoding for Faster LLM Inference" not in robots.text
    assert site.profile("ada@example.org").topics[1].query == "graph"


def test_two_tabs_saving_at_once_both_succeed_and_one_wins(site: Site, manage: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = site.client()
    page = client.get(manage).text
    forms = [
        _form(page, topic_name=[f"Tab {i}", ""], topic_query=[f"topic{i}", ""]) for i in range(4)
    ]
    with ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(
                lambda form: client.post(manage, data=form, follow_redirects=False).status_code,
                forms,
            )
        )
    assert statuses == [303] * 4
    topics = site.profile("ada@example.org").topics
    assert len(topics) == 2 and topics[1].name.startswith("Tab ")


def test_the_preview_applies_the_edition_rules_of_a_first_digest(site: Site, manage: str) -> None:
    from digest.app.edition import preview_for_profile
    from digest.profiles.cadence import hand_send_edition
    from digest.store.papers import list_papers

    site.add_papers([paper("2602.00001", "An Older LLM Paper", upvotes=99)])
    site.clock.advance(days=2)
    site.add_papers([paper("2603.00004", "Another LLM Paper", upvotes=5)])
    preview = site.app.state.web.preview
    shown = {}
    for cadence in ("daily", "weekly:mon"):
        profile = replace(site.profile("ada@example.org"), cadence=cadence)
        with site.store.session() as session:
            papers = list_papers(session)
        day = hand_send_edition(profile.cadence, profile.send_time, profile.timezone, site.clock())
        expected = preview_for_profile(
            profile, papers, site.settings, edition_date=day, now=site.clock()
        )
        ours = preview.edition(profile, now=site.clock())
        assert [m.paper.id for m in ours.papers] == [m.paper.id for m in expected.papers]
        assert [p.id for p in ours.trending] == [p.id for p in expected.trending]
        assert ours.date == expected.date
        shown[cadence] = {m.paper.id for m in ours.papers}
    assert shown["daily"] == {"2603.00004"}  # one day's papers for a daily digest
    assert {"2602.00001", "2603.00001", "2603.00004"} <= shown["weekly:mon"]


def test_a_new_ingest_shows_up_in_the_next_preview(site: Site, manage: str) -> None:
    assert "Quantum" not in _preview(site, manage, topic_query="quantum")
    site.add_papers([paper("2603.00010", "Quantum Error Correction at Scale", upvotes=3)])
    assert "Quantum Error Correction at Scale" in _preview(site, manage, topic_query="quantum")
