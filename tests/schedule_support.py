"""Helpers shared by the schedule tests: real `digest` processes against a real database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from digest.models import Profile, Topic
from digest.store import Store
from digest.store.schema import DeliveryRow, SubscriberRow
from digest.store.subscribers import Status, create
from tests.conftest import ROOT, TEST_SECRET

JOINED = datetime(2026, 1, 1, tzinfo=UTC)
SAMPLE = ROOT / "digest" / "samples" / "daily-papers-sample.txt"


def base_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if "DIGEST_REQUIRE_SERVICES" in os.environ:
        env["DIGEST_REQUIRE_SERVICES"] = os.environ["DIGEST_REQUIRE_SERVICES"]
    env.update(
        {
            "DIGEST_DATABASE__URL": db_url,
            "DIGEST_SITE__BASE_URL": "https://digest.example.org",
            "DIGEST_SITE__SECRET_KEY": TEST_SECRET,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def digest(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add(
    store: Store, email: str, timezone: str, cadence: str, send_time: str, status: Status = "active"
) -> int:
    profile = Profile(
        email=email,
        timezone=timezone,
        cadence=cadence,
        send_time=send_time,
        topics=(Topic("Decoding", "decoding"),),
    )
    with store.session() as session:
        return create(session, profile, status=status, origin="import", now=JOINED).id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def ledger(store: Store) -> dict[str, str]:
    import sqlalchemy as sa

    with store.session() as session:
        rows = session.execute(
            sa.select(SubscriberRow.email, DeliveryRow.status).join(
                DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
            )
        ).all()
    return dict(rows)  # type: ignore[arg-type]


class SimulatedClock:
    """The scheduler's clock, held at an instant the test moves."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at
