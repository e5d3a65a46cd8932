"""How a query was read, in plain lines: what `digest match --explain` prints and what the
preferences page shows beside the reader's topics, so both say the same thing."""

from __future__ import annotations

from digest.match.plain import Group


def _papers(count: int) -> str:
    return f"{count} paper" + ("" if count == 1 else "s")


def explanation(query: str, groups: list[Group] | None) -> list[str]:
    """How one query was read, one line each (continuation lines indented)."""
    if groups is None:
        return [f"{query!r}: query language (quotes or operators), matched exactly as written"]
    lines = [f"{query!r}: plain words"]
    for group in groups:
        if len(groups) > 1:
            lines.append(f"  any of: {group.display}")
        for concept in group.concepts:
            for word in concept.words:
                if not word.required:
                    how = "not required (common)"
                elif word.common:
                    how = f'required (part of "{concept.display}")'
                else:
                    how = "required"
                lines.append(f"  {word.display}: {how}, in {_papers(word.papers)}")
            if concept.aliases:
                also = ", ".join(term.display for term in concept.aliases)
                lines.append(f"  {concept.display} also matches: {also}")
                lines.append(f"  {concept.display}, by any name: in {_papers(concept.papers)}")
        if group.phrase is not None:
            lines.append(f'  "{group.phrase.display}" side by side ranks higher')
        if group.cutoff > 0:
            lines.append(
                f"  score cut-off: {group.cutoff:.2f} (what naming each required word twice in "
                "the abstract weighs; a title mention weighs three; one passing mention does not)"
            )
        else:
            lines.append("  score cut-off: none (one required word: any mention counts)")
    return lines
