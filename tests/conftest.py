"""Shared fixtures: real SQLite files, real settings, real SMTP servers, the shared captures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from digest.cli.app import run
from digest.settings import Settings, load_settings
from digest.store import Store, open_store
from tests.smtpd import SmtpServer

if TYPE_CHECKING:
    from tests.websupport import Site, Sites

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
REQUIRE_SERVICES = os.environ.get("DIGEST_REQUIRE_SERVICES") == "1"
TEST_SECRET = "test-secret-key-not-for-production-0123456789"


def require(available: bool, reason: str) -> None:
    """Skip when a system tool or service is absent; in CI (DIGEST_REQUIRE_SERVICES=1) fail."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared capture {path} is absent (it lives beside the project in ../shared/)")
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'digest.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    yield opened
    opened.dispose()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sites(make_settings, store: Store, smtp_server: SmtpServer) -> Iterator[Sites]:  # type: ignore[no-untyped-def]
    """Web apps served over real HTTP (uvicorn on port 0), mailing through `smtp_server`."""
    from tests.websupport import Sites  # imports this module: load it only when used

    with Sites(make_settings, store, smtp_server) as factory:
        yield factory


@pytest.fixture
def site(sites: Sites) -> Site:
    return sites()


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def digest(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Run the real `digest` entry point against a fresh SQLite file: (exit code, out, err)."""
    for key in list(os.environ):
        if key.startswith("DIGEST_") and key != "DIGEST_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    monkeypatch.setenv("DIGEST_DATABASE__URL", db_url)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def make_settings(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Settings from keyword sections, e.g. make_settings(smtp={"port": 2525})."""
    for key in list(os.environ):
        if key.startswith("DIGEST_") and key != "DIGEST_REQUIRE_SERVICES":
            monkeypatch.delenv(key)

    def build(**sections: dict[str, object]) -> Settings:
        values: dict[str, object] = {
            "database": {"url": db_url},
            "site": {"base_url": "https://digest.example.org", "secret_key": [TEST_SECRET]},
        }
        for name, section in sections.items():
            merged = dict(values.get(name, {}))  # type: ignore[call-overload]
            merged.update(section)
            values[name] = merged
        return load_settings(None, **values)

    return build
