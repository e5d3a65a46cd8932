"""`digest eval FILE`: how well the matcher agrees with relevance judgments."""

from __future__ import annotations

from pathlib import Path

import click

from digest.app.evaluate import evaluate
from digest.cli.app import AppContext, cli, pass_app, print_json
from digest.match.aliases import load_aliases


@cli.command(name="eval")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@pass_app
def eval_command(app: AppContext, path: Path, as_json: bool) -> None:
    """Score each topic's query in FILE against the stored papers (precision, recall, F1, nDCG).

    FILE is JSON: {"topics": {NAME: {"query": Q, "relevant": [ID_OR_TITLE, ...],
    "borderline": [...]}}}; borderline papers count neither way.
    """
    aliases = load_aliases(app.settings.match.aliases_file)
    result = evaluate(path, app.store, aliases=aliases)
    if as_json:
        print_json(result.as_json())
        return
    width = max(len(t.name) for t in result.topics)
    click.echo(f"{'topic':<{width}}  precision  recall     f1   ndcg  found  relevant")
    for t in result.topics:
        click.echo(
            f"{t.name:<{width}}  {t.precision:9.3f}  {t.recall:6.3f}  {t.f1:5.3f}  {t.ndcg:5.3f}"
            f"  {t.found:5d}  {t.relevant:8d}"
        )
        if t.unknown:
            shown = "; ".join(t.unknown[:3]) + (" …" if len(t.unknown) > 3 else "")
            click.echo(f"  warning: {len(t.unknown)} judged paper(s) not stored: {shown}")
    click.echo(f"macro F1: {result.macro_f1:.3f}")
