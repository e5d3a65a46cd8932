"""How a query was read, in plain lines: what `digest match --explain` prints and what the
preferences page shows beside the reader's topics, so both say the same thing."""

from __future__ import annotations

from digest.match.plain import Group


def explanation(query: str, groups: list[Group] | None) -> list[str]:
    """`--explain`: how one query was read, in plain lines."""
    if groups is None:
        return [f"{query!r}: query language (quotes or operators), matched exactly as written"]
    lines = [f"{query!r}: plain words"]
    for group in groups:
        if len(groups) > 1:
            lines.append(f"  any of: {group.display}")
        for concept in group.concepts:
            for word in concept.words:
                how = "required" if word.required else "not required (common)"
                count = f"{word.papers} paper" + ("" if word.papers == 1 else "s")
                lines.append(f"  {word.display}: {how}, in {count}")
            if concept.aliases:
                also = ", ".join(term.display for term in concept.aliases)
                lines.append(f"  {concept.display} also matches: {also}")
        if group.phrase is not None:
            lines.append(f'  "{group.phrase.display}" side by side ranks higher')
        if group.cutoff > 0:
            lines.append(
                f"  score cut-off: {group.cutoff:.2f} (required words named twice in the "
                "abstract would score more; one passing mention each scores less)"
            )
        else:
            lines.append("  score cut-off: none (one required word: any mention counts)")
    return lines
