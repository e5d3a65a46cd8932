"""The ledger's page-sized writes, each one statement whatever the page holds.

On SQLite a page of rows goes through `executemany`, which the sqlite3 module loops in C. On
PostgreSQL psycopg's `executemany` sends one Execute per row through its pipeline (~40 µs of
Python each, and a digest carries ~15 papers), and a multi-row INSERT of a 200-reader page has
1,600 parameters, which psycopg parses again on every page (it keeps the parsing of statements
of at most 50). There each column travels as one array and `unnest` turns the arrays back into
rows: a handful of parameters, one round trip. bench/senders.py measures it.

Callers hold the transaction; these only run the statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Integer,
    String,
    Table,
    TableValuedAlias,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeEngine

from digest.store.schema import DeliveryPaperRow, DeliveryRow, UTCDateTime

_TABLE = cast(Table, DeliveryRow.__table__)
_PAPERS = cast(Table, DeliveryPaperRow.__table__)
_COLUMNS: dict[str, TypeEngine[Any]] = {
    "id": Integer(),
    "subscriber_id": Integer(),
    "mid": String(),
    "until": UTCDateTime(),
    "status": String(),
    "attempts": Integer(),
    "error": Text(),
    "delivery_id": Integer(),
    "paper_id": String(),
    "section": String(),
    "position": Integer(),
}


def _arrays(columns: dict[str, list[Any]]) -> tuple[TableValuedAlias, dict[str, list[Any]]]:
    """`unnest(:a_x, :a_y, …) AS rows(x, y, …)` and its parameters: one array per column."""
    binds = [bindparam(f"a_{n}", type_=postgresql.ARRAY(_COLUMNS[n])) for n in columns]
    rows = func.unnest(*binds).table_valued(*columns).render_derived()
    return rows, {f"a_{name}": values for name, values in columns.items()}


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def insert_claims(
    connection: Connection, day: date, ids: Sequence[int], owned: dict[str, Any]
) -> list[tuple[int, int]]:
    """Queue (subscriber, `day`) for each of `ids` that has no row yet, owned by this sender:
    (delivery id, subscriber id) of each row made. The unique key decides between senders."""
    fixed = {"edition": day, "status": "queued", "attempts": 0, "created_at": owned["updated_at"]}
    if _postgres(connection):
        rows, params = _arrays({"subscriber_id": list(ids)})
        values = {**fixed, **owned}
        source = select(
            rows.c.subscriber_id,
            *(
                bindparam(f"c_{name}", value, type_=_TABLE.c[name].type)
                for name, value in values.items()
            ),
        )
        statement: Any = postgresql.insert(_TABLE).from_select(["subscriber_id", *values], source)
        result = connection.execute(
            statement.on_conflict_do_nothing(index_elements=["subscriber_id", "edition"]).returning(
                _TABLE.c.id, _TABLE.c.subscriber_id
            ),
            params,
        )
    else:
        statement = (
            sqlite.insert(_TABLE)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "edition"])
            .returning(_TABLE.c.id, _TABLE.c.subscriber_id)
        )
        result = connection.execute(
            statement, [{"subscriber_id": i, **fixed, **owned} for i in ids]
        )
    return [(delivery_id, subscriber_id) for delivery_id, subscriber_id in result]


def set_prepared(
    connection: Connection, rows: Sequence[tuple[int, str | None, datetime | None]]
) -> None:
    """Each delivery's (id, Message-ID, candidates_until)."""
    if _postgres(connection):
        source, params = _arrays(
            {"id": [r[0] for r in rows], "mid": [r[1] for r in rows], "until": [r[2] for r in rows]}
        )
        connection.execute(
            update(_TABLE)
            .where(_TABLE.c.id == source.c.id)
            .values(message_id=source.c.mid, candidates_until=source.c.until),
            params,
        )
        return
    connection.execute(
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("b_id"))
        .values(message_id=bindparam("b_mid"), candidates_until=bindparam("b_until")),
        [{"b_id": i, "b_mid": mid, "b_until": until} for i, mid, until in rows],
    )


def insert_papers(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Delivery papers: dicts of delivery_id, paper_id, section, position."""
    if not _postgres(connection):
        connection.execute(insert(_PAPERS), list(rows))
        return
    names = ("delivery_id", "paper_id", "section", "position")
    source, params = _arrays({n: [r[n] for r in rows] for n in names})
    connection.execute(
        insert(_PAPERS).from_select(names, select(*(source.c[n] for n in names))), params
    )


def mark_sent(connection: Connection, rows: Sequence[tuple[int, int]], now: datetime) -> None:
    """(delivery id, attempts) the server accepted: sent, whoever holds the claim now."""
    done = {"status": "sent", "last_error": None, "updated_at": now, "sent_at": now}
    if _postgres(connection):
        source, params = _arrays({"id": [r[0] for r in rows], "attempts": [r[1] for r in rows]})
        connection.execute(
            update(_TABLE)
            .where(_TABLE.c.id == source.c.id, _TABLE.c.status != "sent")
            .values(attempts=_TABLE.c.attempts + source.c.attempts, **done),
            params,
        )
        return
    connection.execute(
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.status != "sent")
        .values(attempts=_TABLE.c.attempts + bindparam("b_attempts"), **done),
        [{"b_id": i, "b_attempts": attempts} for i, attempts in rows],
    )


def mark_outcomes(
    connection: Connection,
    rows: Sequence[tuple[int, str, int, str | None]],
    worker: str,
    now: datetime,
) -> None:
    """(delivery id, status, attempts, error) of other outcomes, only where `worker` still
    holds the claim."""
    held = (_TABLE.c.status == "queued", _TABLE.c.claimed_by == worker)
    if _postgres(connection):
        source, params = _arrays(
            {
                name: [r[n] for r in rows]
                for n, name in enumerate(("id", "status", "attempts", "error"))
            }
        )
        connection.execute(
            update(_TABLE)
            .where(_TABLE.c.id == source.c.id, *held)
            .values(
                status=source.c.status,
                attempts=_TABLE.c.attempts + source.c.attempts,
                last_error=source.c.error,
                updated_at=now,
            ),
            params,
        )
        return
    connection.execute(
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("b_id"), *held)
        .values(
            status=bindparam("b_status"),
            attempts=_TABLE.c.attempts + bindparam("b_attempts"),
            last_error=bindparam("b_error"),
            updated_at=now,
        ),
        [
            {"b_id": i, "b_status": status, "b_attempts": attempts, "b_error": error}
            for i, status, attempts, error in rows
        ],
    )
