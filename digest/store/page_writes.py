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
    ColumnElement,
    Connection,
    CursorResult,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeEngine

from digest.store.schema import DeliveryPaperRow, DeliveryRow, UTCDateTime

_TABLE = cast(Table, DeliveryRow.__table__)
_PAPERS = cast(Table, DeliveryPaperRow.__table__)
_TYPES: dict[str, TypeEngine[Any]] = {
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


class _Page:
    """A page of rows, given column by column, as the source of one statement: on PostgreSQL
    the columns of `unnest(:a_x, :a_y, …) AS rows(x, y, …)`, one array parameter each; elsewhere
    bound parameters, run once per row by `executemany`. A statement is written once, with
    `page["x"]` wherever a row's value goes."""

    def __init__(self, connection: Connection, columns: dict[str, list[Any]]) -> None:
        self.connection = connection
        self.columns = columns
        self.arrays = connection.dialect.name == "postgresql"
        binds = [bindparam(f"a_{n}", type_=postgresql.ARRAY(_TYPES[n])) for n in columns]
        self.rows = func.unnest(*binds).table_valued(*columns).render_derived()

    def __getitem__(self, name: str) -> ColumnElement[Any]:
        return self.rows.c[name] if self.arrays else bindparam(f"b_{name}")

    def run(self, statement: Any) -> CursorResult[Any]:
        if self.arrays:
            return self.connection.execute(
                statement, {f"a_{n}": values for n, values in self.columns.items()}
            )
        names = [f"b_{n}" for n in self.columns]
        rows = [
            dict(zip(names, values, strict=True))
            for values in zip(*self.columns.values(), strict=True)
        ]
        return self.connection.execute(statement, rows)

    def insert(self, table: Table, constants: dict[str, Any]) -> Any:
        """INSERT of these rows into `table`, each with `constants`, in the backend's dialect
        (for ON CONFLICT): a SELECT from the arrays, or VALUES run once per row."""
        if self.arrays:
            fixed = [bindparam(f"c_{n}", v, type_=table.c[n].type) for n, v in constants.items()]
            source = select(*(self.rows.c[n] for n in self.columns), *fixed)
            return postgresql.insert(table).from_select([*self.columns, *constants], source)
        values: dict[str, Any] = {n: bindparam(f"b_{n}") for n in self.columns}
        return sqlite.insert(table).values(**values, **constants)


def _by_column(rows: Sequence[Sequence[Any]], *names: str) -> dict[str, list[Any]]:
    return {name: [row[n] for row in rows] for n, name in enumerate(names)}


def insert_claims(
    connection: Connection, day: date, ids: Sequence[int], owned: dict[str, Any]
) -> list[tuple[int, int]]:
    """Queue (subscriber, `day`) for each of `ids` that has no row yet, owned by this sender:
    (delivery id, subscriber id) of each row made. The unique key decides between senders."""
    page = _Page(connection, {"subscriber_id": list(ids)})
    fixed = {"edition": day, "status": "queued", "attempts": 0, "created_at": owned["updated_at"]}
    statement = (
        page.insert(_TABLE, {**fixed, **owned})
        .on_conflict_do_nothing(index_elements=["subscriber_id", "edition"])
        .returning(_TABLE.c.id, _TABLE.c.subscriber_id)
    )
    made: Any = page.run(statement)
    return [(delivery_id, subscriber_id) for delivery_id, subscriber_id in made]


def set_prepared(
    connection: Connection, rows: Sequence[tuple[int, str | None, datetime | None]]
) -> None:
    """Each delivery's (id, Message-ID, candidates_until)."""
    page = _Page(connection, _by_column(rows, "id", "mid", "until"))
    page.run(
        update(_TABLE)
        .where(_TABLE.c.id == page["id"])
        .values(message_id=page["mid"], candidates_until=page["until"])
    )


def insert_papers(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Delivery papers: dicts of delivery_id, paper_id, section, position."""
    names = ("delivery_id", "paper_id", "section", "position")
    page = _Page(connection, {n: [row[n] for row in rows] for n in names})
    page.run(page.insert(_PAPERS, {}))


def mark_sent(connection: Connection, rows: Sequence[tuple[int, int]], now: datetime) -> None:
    """(delivery id, attempts) the server accepted: sent, whoever holds the claim now."""
    page = _Page(connection, _by_column(rows, "id", "attempts"))
    page.run(
        update(_TABLE)
        .where(_TABLE.c.id == page["id"], _TABLE.c.status != "sent")
        .values(
            status="sent",
            attempts=_TABLE.c.attempts + page["attempts"],
            last_error=None,
            updated_at=now,
            sent_at=now,
        )
    )


def mark_outcomes(
    connection: Connection,
    rows: Sequence[tuple[int, str, int, str | None]],
    worker: str,
    now: datetime,
) -> None:
    """(delivery id, status, attempts, error) of other outcomes, only where `worker` still
    holds the claim."""
    page = _Page(connection, _by_column(rows, "id", "status", "attempts", "error"))
    page.run(
        update(_TABLE)
        .where(
            _TABLE.c.id == page["id"], _TABLE.c.status == "queued", _TABLE.c.claimed_by == worker
        )
        .values(
            status=page["status"],
            attempts=_TABLE.c.attempts + page["attempts"],
            last_error=page["error"],
            updated_at=now,
        )
    )
