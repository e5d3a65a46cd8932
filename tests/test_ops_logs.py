"""Logs an operator can keep: no reader's token in the access log, and `--log-format json`
for `digest serve` and `digest inbound`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from digest.app.tokens import Purpose, Signer
from digest.web.accesslog import redact_path
from tests.conftest import TEST_SECRET
from tests.schedule_support import base_env

TOKEN = Signer([TEST_SECRET]).sign(Purpose.MANAGE, "AbCdEfGhIjKlMnOp")


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/confirm/{TOKEN}", "/confirm/[token]"),
        (f"/unsubscribe/{TOKEN}", "/unsubscribe/[token]"),
        (f"/preferences/{TOKEN}", "/preferences/[token]"),
        (f"/preferences/{TOKEN}/preview?q=llm", "/preferences/[token]/preview?q=llm"),
        (f"/feedback/{TOKEN}", "/feedback/[token]"),
        (f"/editions/{TOKEN}", "/editions/[token]"),
        ("/confirm/short", "/confirm/[token]"),
        (f"/some/new/route/{TOKEN}", "/some/new/route/[token]"),
        (f"/?token={TOKEN}&page=2", "/?token=[token]&page=2"),
        (f"/x?next={TOKEN}", "/x?next=[token]"),
    ],
)
def test_tokens_are_redacted_from_logged_paths(path: str, logged: str) -> None:
    assert redact_path(path) == logged


@pytest.mark.parametrize(
    "path",
    ["/", "/subscribe", "/papers/2410.18234", "/static/forms.js", "/static/inter-var.woff2",
     "/healthz", "/confirm/"],
)  # fmt: skip
def test_other_paths_are_logged_as_they_are(path: str) -> None:
    assert redact_path(path) == path


def _lines(stream: object, into: list[str], ready: threading.Event) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)
        if "web app on http://" in line:
            ready.set()


def test_serve_logs_json_lines_without_tokens(db_url: str, tmp_path: Path) -> None:
    lines: list[str] = []
    ready = threading.Event()
    with subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--no-scheduler", "--port", "0",
         "--log-format", "json"],
        env=base_env(db_url),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:  # fmt: skip
        reader = threading.Thread(target=_lines, args=(process.stderr, lines, ready), daemon=True)
        reader.start()
        try:
            assert ready.wait(60), "".join(lines)
            started = json.loads(next(line for line in lines if "web app on http://" in line))
            base = started["message"].removeprefix("web app on ")
            with httpx.Client(base_url=base) as client:
                for route in ("confirm", "unsubscribe", "preferences"):
                    client.get(f"/{route}/{TOKEN}")
                assert client.get("/healthz").status_code == 200
        finally:
            process.terminate()
            process.wait(30)
            reader.join(10)
    text = "".join(lines)
    assert TOKEN not in text
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert [(e["method"], e["path"]) for e in access] == [
        ("GET", "/confirm/[token]"),
        ("GET", "/unsubscribe/[token]"),
        ("GET", "/preferences/[token]"),
        ("GET", "/healthz"),
    ]
    assert access[-1]["status"] == 200
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)


def test_inbound_prints_json_lines(db_url: str, tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "digest", "inbound", "--port", "0", "--log-format", "json"],
        env=base_env(db_url, DIGEST_BOUNCES__DOMAIN="bounces.example.org"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            first = json.loads(process.stdout.readline())
        finally:
            process.terminate()
            out, _ = process.communicate(timeout=30)
    assert first["message"].startswith("inbound listening on 127.0.0.1:")
    assert first["logger"] == "digest.inbound" and first["level"] == "info"
    assert json.loads(out.splitlines()[-1])["message"] == "inbound stopped"
