"""Access logs without the keys to readers' subscriptions.

Every confirm, preferences, unsubscribe, feedback and "view in browser" link carries a signed
token; anyone who reads a log that records it can act as that reader until it expires. Paths
are therefore logged with the token replaced: `/confirm/…` becomes `/confirm/[token]`. Routes
are matched by name, and any other path segment or query value shaped like a signed token
(itsdangerous: base64url parts joined by dots) is replaced too, so a route added later is
covered before anyone remembers to list it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

REDACTED = "[token]"
TOKEN_ROUTES = frozenset(
    {"confirm", "unsubscribe", "preferences", "feedback", "editions", "manage"}
)
# Dot-separated base64url parts, the last (the signature) at least 20 characters long: file
# names (`forms.js`, `inter-var.woff2`) and arXiv ids (`2410.18234`) do not look like that.
_TOKENISH = re.compile(r"[A-Za-z0-9_=-]{6,}(\.[A-Za-z0-9_=-]+){0,2}\.[A-Za-z0-9_=-]{20,}")
ACCESS_LOGGER = "uvicorn.access"


def redact_path(target: str) -> str:
    """`target` (a path with an optional query) with every token replaced by `[token]`."""
    path, mark, query = target.partition("?")
    segments = path.split("/")
    for i, segment in enumerate(segments):
        after_route = i == 2 and segments[1] in TOKEN_ROUTES and segment != ""
        if after_route or _TOKENISH.fullmatch(segment):
            segments[i] = REDACTED
    redacted = "/".join(segments)
    if not mark:
        return redacted
    pairs = parse_qsl(query, keep_blank_values=True)
    cleaned = [
        (key, REDACTED if "token" in key.lower() or _TOKENISH.fullmatch(value) else value)
        for key, value in pairs
    ]
    return f"{redacted}?{urlencode(cleaned, safe='[]/')}"


class RedactTokens(logging.Filter):
    """On uvicorn's access logger, whose records carry (client, method, path, version,
    status) as arguments: the path is redacted before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install() -> None:
    """Attach the filter to the access logger, once however many servers start."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
