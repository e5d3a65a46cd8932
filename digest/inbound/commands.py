"""Commands by mail: the subject, else the first line of the body, names one.

`subscribe`, `unsubscribe`, `topics`, `add QUERY`, `remove N` and `help`, in any case, after
any number of reply prefixes ("Re:", "Fwd:", "AW:" …). Mailman's users have always managed
their subscription this way; clients that cannot edit a body can still write a subject.
Parsing only: whether a query is valid is the use case's business (the same rule as everywhere
else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Verb = Literal["subscribe", "unsubscribe", "topics", "add", "remove", "help"]
VERBS: tuple[Verb, ...] = ("subscribe", "unsubscribe", "topics", "add", "remove", "help")
_PREFIX = re.compile(r"^\s*(?:re|fwd?|aw|wg|sv|antw)\s*(?:\[\d+\])?\s*:\s*", re.IGNORECASE)
MAX_ARGUMENT = 500
MAX_TOPIC_NUMBER = 1000


@dataclass(frozen=True, slots=True)
class Command:
    verb: Verb
    argument: str = ""  # the query of `add`, the number of `remove`
    problem: str | None = None  # why the command cannot be carried out as written


def read_command(subject: str, body: str) -> Command | None:
    """The command in the subject or, failing that, the body's first non-blank line."""
    found = parse_line(subject)
    if found is not None:
        return found
    for line in body.splitlines()[:50]:
        if line.strip():
            return parse_line(line)
    return None


def parse_line(line: str) -> Command | None:
    text = line.strip()
    while (stripped := _PREFIX.sub("", text, count=1)) != text:
        text = stripped
    word, _, rest = text.partition(" ")
    verb = word.strip().lower()
    if verb not in VERBS:
        return None
    argument = " ".join(rest.split())[:MAX_ARGUMENT]
    if verb == "add":
        if not argument:
            return Command("add", problem="add needs a topic query, e.g. add diffusion OR gan")
        return Command("add", argument)
    if verb == "remove":
        if not argument.isdigit() or not 1 <= int(argument) <= MAX_TOPIC_NUMBER:
            return Command(
                "remove", argument, problem="remove needs a topic's number, as topics lists them"
            )
        return Command("remove", str(int(argument)))
    return Command(verb)
