"""Reading the subscribe and preferences forms into a `Profile`, with one message per field.

The forms are re-rendered with the reader's own input and an error beside each field, so every
check here reports *where* it failed: a field name, or a topic row plus the column in its query.
Nothing that fails these checks reaches the store or a mail header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.datastructures import ImmutableMultiDict

from digest.addresses import MAX_ADDRESS_LENGTH, UnsupportedAddress, check_address
from digest.errors import DigestError, InvalidValue, QueryError
from digest.match import compile_query
from digest.models import Profile, Topic
from digest.profiles import MAX_PAPERS, MAX_QUERY, MAX_TOPIC_NAME, profile_from_mapping, topic_table
from digest.profiles.cadence import WEEKDAYS, parse_cadence, parse_local_time, parse_timezone
from digest.settings import CatalogEntry
from digest.web.timezones import TimezoneList, timezone_list

# A web form offers fewer topics than an operator's profile file may hold (50): twenty is a lot
# of reading, and it bounds the work one preview request can ask for.
MAX_TOPICS = 20
MAX_QUERY_LENGTH = MAX_QUERY
MAX_NAME_LENGTH = MAX_TOPIC_NAME

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CADENCE_CHOICES: tuple[tuple[str, str], ...] = (
    ("daily", "Every day"),
    *(
        (f"weekly:{day}", f"Every week, on {name}")
        for day, name in zip(WEEKDAYS, DAY_NAMES, strict=True)
    ),
)


def timezone_choices() -> TimezoneList:
    """Canonical IANA zones offered in the time-zone list, UTC first, grouped by region; any
    valid name is accepted."""
    return timezone_list()


@dataclass(frozen=True, slots=True)
class TopicInput:
    """One custom topic row as typed; `column` is where its query stops parsing (1-based)."""

    name: str = ""
    query: str = ""
    error: str | None = None
    like: str = ""  # a topic by example: paper ids or titles, one a line
    column: int | None = None


@dataclass
class ProfileForm:
    """The form as submitted, the field errors, and the profile when everything is valid."""

    email: str = ""
    catalog: list[str] = field(default_factory=list)
    topics: list[TopicInput] = field(default_factory=list)
    cadence: str = "daily"
    send_time: str = "08:00"
    timezone: str = "UTC"
    max_papers: str = "10"
    trending: bool = True
    errors: dict[str, str] = field(default_factory=dict)
    profile: Profile | None = None

    @property
    def valid(self) -> bool:
        return self.profile is not None and not self.errors and not self.topic_errors

    @property
    def topic_errors(self) -> list[TopicInput]:
        return [topic for topic in self.topics if topic.error is not None]

    @property
    def error_count(self) -> int:
        return len(self.errors) + len(self.topic_errors)

    @classmethod
    def from_profile(cls, profile: Profile, catalog: Sequence[CatalogEntry]) -> ProfileForm:
        """The preferences form pre-filled: topics equal to a catalogue entry tick its box."""
        by_topic = {(entry.name, entry.query): entry.name for entry in catalog}
        ticked = [
            by_topic[(t.name, t.query)] for t in profile.topics if (t.name, t.query) in by_topic
        ]
        custom = [
            TopicInput(t.name, t.query, like="\n".join(t.like))
            for t in profile.topics
            if (t.name, t.query) not in by_topic
        ]
        return cls(
            email=profile.email,
            catalog=ticked,
            topics=custom,
            cadence=profile.cadence,
            send_time=profile.send_time,
            timezone=profile.timezone,
            max_papers=str(profile.max_papers),
            trending=profile.trending,
            profile=profile,
        )


def _single_line(value: str) -> bool:
    return not any(ch in value for ch in "\r\n\x00")


Fields = Mapping[str, Sequence[str]]


def fields_of(data: ImmutableMultiDict[str, Any]) -> dict[str, list[str]]:
    """A submitted form or query string as plain lists of strings (file parts are dropped)."""
    fields: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    return fields


def _text(form: Fields, name: str) -> str:
    values = form.get(name)
    return values[0].strip() if values else ""


def check_email(raw: str) -> tuple[str | None, str | None]:
    """(normalised address, None) or (None, the message to show beside the field)."""
    if not raw:
        return None, "Enter your email address."
    if not _single_line(raw) or len(raw) > MAX_ADDRESS_LENGTH:
        return None, "Enter a single email address, such as ada@example.org."
    # The policy is digest.addresses; only the wording shown beside the field is the form's.
    try:
        return check_address(raw).normalized, None
    except UnsupportedAddress:
        return None, "Addresses with non-ASCII characters before the @ are not supported."
    except InvalidValue as exc:
        return None, f"This does not look like an email address: {exc}"


def check_query(query: str) -> tuple[str | None, int | None]:
    """(message, column) for a query that does not parse, else (None, None)."""
    if not _single_line(query):
        return "A query must fit on one line.", None
    if len(query) > MAX_QUERY_LENGTH:
        return f"A query can be at most {MAX_QUERY_LENGTH} characters long.", MAX_QUERY_LENGTH
    try:
        compile_query(query)
    except QueryError as exc:
        return exc.reason, exc.column
    return None, None


def read_profile_form(
    form: Fields,
    catalog: Sequence[CatalogEntry],
    *,
    email: str | None = None,
    require_topic: bool,
) -> ProfileForm:
    """Validate the submitted fields. `email` is given on the preferences page (the address is
    not editable there) and read from the form on the subscribe page."""
    result = ProfileForm(
        email=email if email is not None else _text(form, "email"),
        catalog=[],
        cadence=_text(form, "cadence") or "daily",
        send_time=_text(form, "send_time") or "08:00",
        timezone=_text(form, "timezone") or "UTC",
        max_papers=_text(form, "max_papers") or "10",
        trending=form.get("trending") is not None if "trending_shown" in form else True,
    )
    errors = result.errors

    address = result.email
    if email is None:
        normalised, problem = check_email(result.email)
        if problem is not None:
            errors["email"] = problem
        address = normalised or result.email

    names = {entry.name: entry for entry in catalog}
    topics: list[Topic] = []
    for picked in form.get("catalog", ()):
        if picked in names and picked not in result.catalog:
            result.catalog.append(picked)
            topics.append(Topic(picked, names[picked].query))
    used = {topic.name.casefold() for topic in topics}

    for raw_name, raw_query, raw_like in _custom_rows(form):
        name, query = raw_name.strip(), raw_query.strip()
        like = tuple(line.strip() for line in raw_like.splitlines() if line.strip())
        if not name and not query and not like:
            continue
        row = TopicInput(name, query, like="\n".join(like))
        if not query and not like:
            row = replace(row, error="Type a query for this topic, or clear its name.")
        elif not query and not name:
            row = replace(row, error="Give this topic of example papers a name.")
        elif not _single_line(name) or len(name) > MAX_NAME_LENGTH:
            row = replace(
                row, error=f"A topic name is one line of at most {MAX_NAME_LENGTH} characters."
            )
        elif (name or _default_name(query)).casefold() in used:
            row = replace(row, error="Another topic already has this name; give this one its own.")
        elif query:
            message, column = check_query(query)
            row = replace(row, error=message, column=column)
        result.topics.append(row)
        if row.error is None:
            topics.append(Topic(name or _default_name(query), query, like=like))
            used.add(topics[-1].name.casefold())

    if len(topics) > MAX_TOPICS:
        errors["topics"] = f"Choose at most {MAX_TOPICS} topics."
    elif require_topic and not topics and not result.topic_errors:
        errors["topics"] = "Pick at least one topic, or type your own query."
    elif not topics and not result.trending and not result.topic_errors:
        errors["topics"] = "Pick at least one topic, or keep the trending section."

    # The rules are the profile's (InvalidValue); only the wording beside each field is the form's.
    try:
        parse_cadence(result.cadence)
    except InvalidValue:
        errors["cadence"] = "Choose every day or one day of the week."
        result.cadence = "daily"
    try:
        result.send_time = _hh_mm(result.send_time)
        parse_local_time(result.send_time)
    except InvalidValue:
        errors["send_time"] = "Enter a time such as 08:00 (24-hour clock)."
    if not _single_line(result.timezone):
        errors["timezone"] = "Choose a time zone from the list."
        result.timezone = "UTC"
    else:
        try:
            parse_timezone(result.timezone)
        except InvalidValue:
            errors["timezone"] = "Choose a time zone from the list, such as Europe/Paris."
    try:
        max_papers = int(result.max_papers)
        if not 1 <= max_papers <= MAX_PAPERS:
            raise ValueError
    except ValueError:
        errors["max_papers"] = f"Enter a number of papers between 1 and {MAX_PAPERS}."
        max_papers = 10

    if errors or result.topic_errors:
        return result
    try:
        result.profile = profile_from_mapping(
            {
                "email": address,
                "timezone": result.timezone,
                "cadence": result.cadence,
                "send_time": result.send_time,
                "max_papers": max_papers,
                "trending": result.trending,
                "topics": [topic_table(t) for t in topics],
            },
            where="form",
        )
    except DigestError as exc:
        errors["form"] = str(exc).removeprefix("form: ")
    return result


def _hh_mm(value: str) -> str:
    """Browsers may send `HH:MM:SS` from a time input; keep minutes, as the profile does."""
    parts = value.split(":")
    if len(parts) == 3 and parts[2] == "00":
        return ":".join(parts[:2])
    return value


def _default_name(query: str) -> str:
    return query if len(query) <= 60 else query[:59].rstrip() + "…"


def _custom_rows(form: Fields) -> list[tuple[str, str, str]]:
    """Line up the repeated `topic_name` / `topic_query` / `topic_like` fields (the subscribe
    page has a single query box, no name and no examples)."""
    names = list(form.get("topic_name", ()))
    queries = list(form.get("topic_query", ()))
    likes = list(form.get("topic_like", ()))
    rows = max(len(names), len(queries), len(likes))
    names += [""] * (rows - len(names))
    queries += [""] * (rows - len(queries))
    likes += [""] * (rows - len(likes))
    return list(zip(names, queries, likes, strict=True))[: MAX_TOPICS + 5]


def cadence_phrase(cadence: str) -> str:
    """`every day` / `every Monday`, to sit inside a sentence."""
    try:
        weekday = parse_cadence(cadence).weekday
    except InvalidValue:
        return cadence
    return "every day" if weekday is None else f"every {DAY_NAMES[weekday]}"
