"""`digest match`: try a query (or a profile's topics) against the stored papers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from digest.cli.app import AppContext, cli, pass_app, print_json
from digest.errors import ProfileError
from digest.match import Matcher, PaperIndex, compile_query
from digest.match.aliases import load_aliases
from digest.match.explanation import explanation
from digest.models import Match, Topic
from digest.profiles import load_profiles
from digest.store.papers import list_papers


def match_json(match: Match) -> dict[str, Any]:
    """The `digest match --json` shape (DESIGN.md), with "because" when ratings placed it."""
    found: dict[str, Any] = {
        "id": match.paper.id,
        "title": match.paper.title,
        "score": round(match.score, 4),
        "matched": [{"term": r.term, "field": r.field} for r in match.matched],
    }
    if match.because:
        found["because"] = list(match.because)
    return found


@cli.command()
@click.option("--query", "-q", "query", default=None, help="A topic query, e.g. 'kv cache, moe'.")
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A TOML profile: match its topics with its min_upvotes.",
)
@click.option(
    "--subscriber",
    "email",
    default=None,
    help="A subscriber's address: what their digest would carry (topics and ratings).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of matches.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N papers.")
@click.option(
    "--explain",
    is_flag=True,
    help="First say how each query was understood: expanded terms, required words, cut-off.",
)
@pass_app
def match(
    app: AppContext,
    query: str | None,
    profile_path: Path | None,
    email: str | None,
    as_json: bool,
    limit: int | None,
    explain: bool,
) -> None:
    """Rank the stored papers against --query Q, the topics of --profile FILE, or what
    --subscriber EMAIL's digest would carry, best first.

    With --profile and no --limit, the profile's max_papers caps the list; --subscriber lists
    every stored paper their topics and ratings let in unless --limit.
    """
    aliases = load_aliases(app.settings.match.aliases_file)
    if sum(x is not None for x in (query, profile_path, email)) != 1:
        raise click.UsageError(
            "give exactly one of --query Q, --profile FILE or --subscriber EMAIL"
        )

    def explain_topics(topics: Sequence[Topic], matcher: Matcher | None = None) -> None:
        """How each query was understood; on stderr with --json, so stdout stays one document."""
        if matcher is None:
            with app.store.session() as session:
                papers = list_papers(session)
            matcher = Matcher(PaperIndex.build(papers, now=datetime.now(UTC)), aliases=aliases)
        for topic in topics:
            for line in explanation(topic.query, matcher.explain(topic.query)):
                click.echo(line, err=as_json)

    if email is not None:
        from digest.cli.match_subscriber import show_subscriber  # it uses match_json, above

        show_subscriber(
            app, email, as_json=as_json, limit=limit, explain=explain_topics if explain else None
        )
        return
    min_upvotes = 0
    if query is not None:
        compile_query(query)  # a bad query fails before the database is opened
        topics: tuple[Topic, ...] = (Topic(name=query, query=query),)
    else:
        assert profile_path is not None
        profiles = load_profiles(profile_path)
        if len(profiles) != 1:
            raise ProfileError(f"{profile_path}: holds {len(profiles)} profiles; expected one")
        profile = profiles[0]
        topics, min_upvotes = profile.topics, profile.min_upvotes
        limit = limit or profile.max_papers
    with app.store.session() as session:
        papers = list_papers(session)
    matcher = Matcher(PaperIndex.build(papers, now=datetime.now(UTC)), aliases=aliases)
    found = matcher.match(topics, min_upvotes=min_upvotes, limit=limit)
    if explain:
        explain_topics(topics, matcher)
    if as_json:
        print_json([match_json(m) for m in found])
        return
    if not found:
        click.echo("No stored paper matches." if papers else "No papers stored yet.")
        return
    for position, m in enumerate(found, start=1):
        reasons = ", ".join(f"{r.term} ({r.field})" for r in m.matched)
        topic_note = f" [{', '.join(m.topics)}]" if profile_path is not None else ""
        click.echo(f"{position:>3}. {m.score:.3f}  {m.paper.title}{topic_note}")
        click.echo(f"       matched: {reasons}")
