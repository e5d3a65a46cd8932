"""`digest ingest` from URLs: fetched over real HTTP, and one clear line when the network fails."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from digest.app.ingest import ingest
from digest.errors import SourceError
from digest.sources.fetch import fetch
from digest.store import Store
from digest.store.papers import list_papers
from tests.ingest_support import API_PAGE, NOW, TEXT_PAGE, stored


def test_ingest_from_a_url_with_an_injected_transport(store: Store) -> None:
    body = json.dumps(API_PAGE).encode()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/api/daily_papers":
            return httpx.Response(200, content=body)
        return httpx.Response(404)

    transport = httpx.MockTransport(handler)
    url = "https://huggingface.co/api/daily_papers"
    counts = ingest(store, [url], now=NOW, transport=transport)
    assert (counts.parsed, counts.new) == (2, 2)
    assert seen == [url]
    with pytest.raises(SourceError, match=r"^https://huggingface\.co/nope: HTTP 404 Not Found"):
        ingest(store, ["https://huggingface.co/nope"], now=NOW, transport=transport)


@pytest.mark.parametrize(
    ("failure", "fragment"),
    [
        (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"), "are you offline?"),
        (httpx.ReadTimeout("timed out"), "no answer within 20 s"),
    ],
)
def test_offline_or_slow_url_is_one_clear_line(
    store: Store, failure: httpx.HTTPError, fragment: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(SourceError) as caught:
        ingest(
            store,
            ["https://huggingface.co/api/daily_papers"],
            now=NOW,
            transport=httpx.MockTransport(handler),
        )
    message = str(caught.value)
    assert message.startswith("https://huggingface.co/api/daily_papers: ")
    assert fragment in message and "\n" not in message
    with store.session() as session:
        assert list_papers(session) == []


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a temporary folder."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _console_script() -> str:
    return str(Path(sys.executable).with_name("digest"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_console_script_reads_stdin_urls_and_reports_errors(
    tmp_path: Path, db_url: str, http_folder: tuple[str, Path]
) -> None:
    base, root = http_folder
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    (root / "api.json").write_text(json.dumps(API_PAGE), encoding="utf-8")
    digest = [_console_script(), "--config", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}

    piped = subprocess.run(
        [*digest, "ingest", "-", "--json", "--page-date", "2025-10-17"],
        input=TEXT_PAGE.encode(),
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout) == {"parsed": 2, "new": 2, "updated": 0}

    fetched = subprocess.run(
        [*digest, "ingest", f"{base}/api.json", "--json"], capture_output=True, env=env, timeout=120
    )
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout) == {"parsed": 2, "new": 0, "updated": 2}

    offline = subprocess.run(
        [*digest, "ingest", f"http://127.0.0.1:{_closed_port()}/api.json"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert offline.returncode == 2
    lines = offline.stderr.decode().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0] and "offline" in lines[0]
    assert offline.stdout == b""
    assert stored(db_url) == 2


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """A real HTTP server that announces a large body and then sends one byte at a time, each
    well within a per-read timeout, for far longer than any fetch should take."""
    stop = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"[")
            for _ in range(100_000):
                if stop.wait(0.2):
                    return
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api.json"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_trickling_server_is_cut_off_at_the_total_deadline(
    store: Store, trickling_server: str
) -> None:
    # Each byte arrives within 0.2 s, far inside the 1 s timeout: only a deadline on the whole
    # transfer ends this download.
    with pytest.raises(SourceError) as caught:
        ingest(store, [trickling_server], now=NOW, timeout=1.0)
    assert str(caught.value) == (
        f"{trickling_server}: not downloaded within 1 s ([ingest] timeout, the whole transfer); "
        "refused"
    )
    with store.session() as session:
        assert list_papers(session) == []


def test_a_body_over_the_size_cap_is_refused(store: Store, http_folder: tuple[str, Path]) -> None:
    base, root = http_folder
    (root / "big.json").write_bytes(b"[" + b" " * 4096 + b"]")
    with pytest.raises(SourceError, match=r"big\.json: response larger than 1024 bytes; refused"):
        fetch(f"{base}/big.json", max_bytes=1024)
