"""The real bounces that ship with flufl.bounce's own test suite (Postfix, Exim, qmail, Exchange,
Yahoo, AOL, …), read from its source distribution.

The wheel carries only the code, so the sdist is fetched once with pip (from the package index
this machine already installs from) and its `tests/data/*.txt` kept in pytest's cache folder;
nothing of it is copied into this project. Without the index the tests that need it skip (and
fail in CI, like any missing service).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.conftest import require


def corpus(request: pytest.FixtureRequest) -> list[Path]:
    version = importlib.metadata.version("flufl.bounce")
    root = (
        Path(request.config.cache.mkdir("flufl-bounce-corpus"))
        if request.config.cache
        else Path(tempfile.gettempdir())
    )
    data = root / f"flufl_bounce-{version}" / "tests" / "data"
    if not data.is_dir():
        _fetch(version, root)
    files = sorted(data.glob("*.txt"))
    require(bool(files), f"flufl.bounce {version}'s bounce corpus could not be fetched with pip")
    return files


def _fetch(version: str, root: Path) -> None:
    with tempfile.TemporaryDirectory() as download:
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", f"flufl.bounce=={version}", "--dest", download],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
        except (subprocess.SubprocessError, OSError):
            return
        [archive] = Path(download).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            members = [
                m for m in tar.getmembers()
                if m.isfile() and "/tests/data/" in m.name and m.name.endswith(".txt")
            ]  # fmt: skip
            tar.extractall(root, members=members, filter="data")
