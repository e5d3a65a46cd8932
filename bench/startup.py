"""Start-up of `digest --version` and `digest --help`: what an operator waits for every time.

The command group imports a command's module only when that command runs, and the runtime
imports pydantic and SQLAlchemy only when settings or the store are first used. The naive
baseline in the same run is what the package did before: import every command module (and so
Alembic, SQLAlchemy, pydantic, httpx, rich…) up front, then answer. The floor is a bare
interpreter. Each figure is the median wall time of fresh processes.
Run: .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

EAGER = (
    "import importlib, pkgutil, sys, digest.cli as c; "
    "[importlib.import_module('digest.cli.' + m.name) for m in pkgutil.iter_modules(c.__path__)]; "
    "sys.exit(c.run(sys.argv[1:]))"
)


def median_seconds(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    floor = median_seconds([sys.executable, "-c", "pass"], runs)
    print(f"bare interpreter: {floor:.3f} s (median of {runs})")
    for flag in ("--version", "--help"):
        lazy = median_seconds([sys.executable, "-m", "digest", flag], runs)
        eager = median_seconds([sys.executable, "-c", EAGER, flag], runs)
        print(
            f"digest {flag}: {lazy:.3f} s; every module imported up front: {eager:.3f} s; "
            f"{eager / lazy:.1f}x faster ({lazy - floor:.3f} s above a bare interpreter)"
        )


if __name__ == "__main__":
    main()
