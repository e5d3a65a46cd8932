"""Errors a user can act on.

Every error here carries the one line a person should read; the CLI prints it and exits 2, the
web app turns it into a page. Anything else escaping is a bug (exit 1).

    DigestError
    ├── InvalidValue       one value does not validate (also a ValueError); says what was expected
    │   └── addresses.UnsupportedAddress   valid, but needs SMTPUTF8 (a non-ASCII local part)
    ├── ConfigError        settings file, environment override or CLI option is wrong
    │   ├── ListenError        a server cannot listen; says whether the host or the port
    │   └── OutputFolderError  the folder to write into is not a folder
    ├── SourceError        an input file/URL cannot be read or is not the expected format
    ├── QueryError         a topic query does not parse (carries the column)
    ├── ProfileError       a subscriber profile is invalid (carries file and line)
    ├── TemplateError      an email or page template fails to compile or render
    ├── StoreError         the database cannot be opened or migrated
    │   └── StoreBusyError     another process holds the write lock past the wait (exit 1)
    ├── TokenError         a signed link is forged, tampered, expired or for another purpose
    └── DeliveryError      mail could not be handed to the SMTP server
        ├── TransientDeliveryError   worth retrying (connection, timeout, 4xx)
        └── PermanentDeliveryError   the server refused for good (5xx)

`map_value_errors` is the one place a parse error becomes one of these (httpx's
`map_httpcore_exceptions` is the model): a `ValueError` from a library (`date.fromisoformat`,
a cron trigger, an IP network) or an `InvalidValue` from the project's own parsers, raised
inside its block, leaves it as the error the caller names, worded "<where>: expected <what>,
got <value>". Core code says where the data came from (a file and line, a settings key, a
subscriber and field); a shell says which of its flags or form fields carried it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class DigestError(Exception):
    """Base class: `str(error)` is the complete, single-line message for the user."""

    # What a command exits with: 2 for a user error; a subclass that is not the user's fault
    # (a database another process keeps locked) says 1.
    exit_status = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def within(self, where: str) -> DigestError:
        """The same kind of error, its message prefixed with where the bad data came from
        (a file and line, a subscriber and field): core code names the data, shells the flag."""
        widened = copy.copy(self)
        widened.message = f"{where}: {self.message}"
        widened.args = (widened.message,)
        return widened


class InvalidValue(DigestError, ValueError):
    """A single value (a cadence, a time zone, an address) that does not validate.

    Raised by the project's own parsers. It is a ValueError too, so pydantic validators and
    callers that accept any ValueError keep working, and the message already says what was
    expected; a caller that knows where the value came from adds that with `within`."""


class ConfigError(DigestError):
    pass


class ListenError(ConfigError):
    """A server could not listen. `option` says which of the caller's values was at fault
    ("host" or "port"), so that a shell can name its own flag for it."""

    def __init__(self, message: str, *, option: str = "port") -> None:
        super().__init__(message)
        self.option = option


class OutputFolderError(ConfigError):
    """The folder asked to write into exists and is not a folder (the shell names its flag)."""


class SourceError(DigestError):
    pass


class QueryError(DigestError):
    """A query that does not parse; `column` is 1-based and points at the offending character."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(f"column {column}: {message}" if column is not None else message)
        self.reason = message
        self.column = column


class ProfileError(DigestError):
    pass


class TemplateError(DigestError):
    pass


class StoreError(DigestError):
    pass


class StoreBusyError(StoreError):
    """The database stayed locked by another writer for the whole bounded wait. Nothing was
    written (the unit of work rolled back); running the command again later is the remedy."""

    exit_status = 1


class TokenError(DigestError):
    """`expired` lets the web edge answer 410 instead of 400."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class DeliveryError(DigestError):
    pass


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


_NO_VALUE = object()


@contextmanager
def map_value_errors(
    *,
    where: str = "",
    value: object = _NO_VALUE,
    expected: str | None = None,
    error: Callable[[str], Exception] = InvalidValue,
    also: tuple[type[Exception], ...] = (),
) -> Iterator[None]:
    """Turn a ValueError raised in the block into `error(message)`, one line.

    The message is `where: detail` (just `detail` without `where`). An InvalidValue already
    says what was expected and keeps its words. A library's ValueError (or one of the library
    errors listed in `also`) is worded "expected <expected>, got <value>" when `expected` is
    given (library wording is rarely for users), else its own text on one line. Any other
    exception passes through untouched."""
    caught: tuple[type[Exception], ...] = (ValueError, *also)
    try:
        yield
    except InvalidValue as exc:
        raise error(_located(where, exc.message)) from None
    except caught as exc:
        if expected is not None:
            got = "" if value is _NO_VALUE else f", got {value!r}"
            detail = f"expected {expected}{got}"
        else:
            detail = " ".join(str(exc).split()) or type(exc).__name__
        raise error(_located(where, detail)) from None


def _located(where: str, detail: str) -> str:
    return f"{where}: {detail}" if where else detail
