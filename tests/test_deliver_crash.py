"""Crash and resume: `digest send` killed with SIGKILL part-way, then run again.

The documented rule (README "Delivery", digest/deliver/ledger.py): a crash never loses a digest,
and costs at most one extra copy of each message that was in flight when the process died —
re-sent with the same Message-ID once the dead process's lease has run out.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from digest.store import Store
from digest.store.schema import DeliveryRow
from tests.conftest import ROOT, TEST_SECRET
from tests.delivery_support import add_readers, ingest, paper
from tests.smtpd import RecordingHandler, SmtpServer

READERS = 30
CONCURRENCY = 2
LEASE = 1.0


def write_config(path: Path, db_url: str, port: int) -> Path:
    path.write_text(
        "[database]\n"
        f'url = "{db_url}"\n'
        "[smtp]\n"
        f"port = {port}\n"
        f"concurrency = {CONCURRENCY}\n"
        "timeout = 10\n"
        "retry_backoff = 0.01\n"
        f"claim_lease_seconds = {LEASE}\n"
        "[site]\n"
        'base_url = "https://digest.example.org"\n'
        f'secret_key = ["{TEST_SECRET}"]\n',
        encoding="utf-8",
    )
    return path


def digest_send(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "send", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(process: subprocess.Popen[str], server: SmtpServer, received: int) -> None:
    deadline = time.monotonic() + 90
    while len(server.messages) < received:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sender made no progress"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()


def test_sigkill_part_way_then_rerun_delivers_everyone_with_at_most_one_extra_copy_per_kill(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    ingest(store, [paper(n) for n in range(5)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, READERS)
    kills = 0
    with SmtpServer(RecordingHandler(delay=0.08)) as server:
        config = write_config(tmp_path / "config.toml", db_url, server.port)
        for received in (5, 14):
            kill_after(digest_send(config), server, received)
            kills += 1
            assert len(server.messages) < READERS  # really part-way
            time.sleep(LEASE * 1.5)  # the dead sender's claims expire
        final = digest_send(config)
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err
        messages = server.messages

    copies = Counter(m.rcpt_tos[0] for m in messages)
    assert set(copies) == {f"reader{n}@example.org" for n in range(READERS)}  # none missing
    assert max(copies.values()) <= 1 + kills
    duplicated = [address for address, n in copies.items() if n > 1]
    assert len(duplicated) <= kills * CONCURRENCY  # only what was in flight at a kill
    ids: dict[str, set[str]] = defaultdict(set)
    for message in messages:
        ids[message.rcpt_tos[0]].add(str(message.message["Message-ID"]))
    assert all(len(found) == 1 for found in ids.values())  # a resend is the same message

    summary = json.loads(out)
    assert set(summary) == {"sent", "skipped", "deferred", "failed", "bounced"}
    with store.session() as session:
        assert Counter(session.scalars(select(DeliveryRow.status))) == {"sent": READERS}

    again = digest_send(config)
    out, _ = again.communicate(timeout=120)
    assert json.loads(out)["sent"] == 0  # and a further run sends nothing


def test_an_immediate_rerun_takes_over_a_dead_senders_claims_and_says_so(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    ingest(store, [paper(n) for n in range(5)], at=datetime.now(UTC) - timedelta(hours=1))
    add_readers(store, 12)
    with SmtpServer(RecordingHandler(delay=0.3)) as server:
        config = write_config(tmp_path / "config.toml", db_url, server.port)
        text = config.read_text(encoding="utf-8").replace(f"= {LEASE}", "= 30.0")
        config.write_text(text, encoding="utf-8")
        kill_after(digest_send(config), server, 2)
        with store.session() as session:
            stranded = Counter(session.scalars(select(DeliveryRow.status)))["queued"]
        assert stranded > 0
        rerun = digest_send(config)
        _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    # The dead sender ran on this host and its pid is gone: no need to wait out the lease.
    assert f"{stranded} delivery(ies) taken over from a sender that died" in err
    with store.session() as session:
        statuses = Counter(session.scalars(select(DeliveryRow.status)))
    assert statuses == Counter({"sent": 12})
