"""The one address policy: what counts as a mail address anywhere in papers-digest.

Profiles, `subscribers import`, the web form, mail commands and the sender all ask this module,
so an address the sender would refuse is refused where it enters, as a user error. The rule:

- one line (no CR, LF or NUL: that is how header injection and SMTP smuggling start), at most
  320 characters;
- email-validator accepts it (syntax only; deliverability is never looked up);
- the local part is ASCII. A non-ASCII local part (`üser@example.org`) needs SMTPUTF8 from every
  server on the way, which this sender does not promise; IDN domains are fine (sent as
  punycode).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from digest.errors import InvalidValue

MAX_ADDRESS_LENGTH = 320


@dataclass(frozen=True, slots=True)
class Address:
    """`normalized` is the form stored and shown; `ascii` the form put on the wire."""

    normalized: str
    ascii: str


class UnsupportedAddress(InvalidValue):
    """Valid syntax this sender cannot deliver to: a non-ASCII local part needs SMTPUTF8."""


@lru_cache(maxsize=16_384)
def _checked(address: str) -> Address | InvalidValue:
    """Sender addresses repeat on every message and a scheduler sends to the same readers
    edition after edition: each distinct value is validated once per process (bounded). The
    refusal is cached too (as the error to raise a copy of), so a bad value costs no more than
    a good one."""
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return InvalidValue(f"{address!r} is not a valid address ({exc})")
    if valid.ascii_email is None:
        return UnsupportedAddress(
            f"{address!r} has a non-ASCII local part, which needs SMTPUTF8; not supported"
        )
    return Address(normalized=valid.normalized, ascii=valid.ascii_email)


def check_address(address: str) -> Address:
    """The address under the policy, or InvalidValue saying what is wrong (one line)."""
    if "\r" in address or "\n" in address or "\0" in address:
        raise InvalidValue(f"CR, LF or NUL in address {address[:60]!r}")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidValue(f"address longer than {MAX_ADDRESS_LENGTH} characters")
    result = _checked(address)
    if isinstance(result, InvalidValue):
        raise type(result)(result.message)  # a fresh one: a raised error keeps its traceback
    return result
