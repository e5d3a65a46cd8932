"""`digest subscribers import` of one file with many `[[subscribers]]` profiles.

The real command runs in a child process (start-up, reading, validation of every profile and
topic query, batched writes and commits), on a fresh SQLite file and, when the server answers,
a fresh PostgreSQL database. The fair floor measured in the same run is Python's own tomllib
parsing the same file (in a child too): the import cannot be cheaper than reading it. Peak RSS
is the child's (wait4), so it shows whether the import holds the whole file in memory.
Run: .venv/bin/python bench/import.py [--profiles N] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    'speculative decoding OR "draft model"',
    "diffusion AND video",
    '"mixture of experts"',
    "reinforcement learning from human feedback",
    "kv cache OR quantization",
    '"state space model" OR mamba',
    "retrieval augmented generation",
    "vision language model",
]
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC", "Europe/Berlin"]


def write_profiles(path: Path, count: int) -> None:
    rng = random.Random(13)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            out.write(
                f'[[subscribers]]\nemail = "reader{n}@example.org"\nname = "Reader {n}"\n'
                f'timezone = "{rng.choice(ZONES)}"\ncadence = "daily"\n'
                f'send_time = "{rng.randrange(24):02d}:{rng.choice((0, 30)):02d}"\n'
                "max_papers = 10\n\n"
            )
            for t in range(rng.randint(1, 3)):
                query = rng.choice(QUERIES).replace('"', '\\"')
                out.write(f'[[subscribers.topics]]\nname = "Topic {t}"\nquery = "{query}"\n\n')


def run_import(path: Path, url: str) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS MB) of `digest subscribers import PATH` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_DATABASE__URL"] = url
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "digest", "subscribers", "import", str(path)],
        env=env,
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    out = child.stdout.read().decode() if child.stdout else ""
    err = child.stderr.read().decode() if child.stderr else ""
    if status != 0:
        raise SystemExit(f"import failed on {url}: {err.strip()[-500:]}")
    print(f"  {out.strip()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


PARSE = """
import json, sys, time, tomllib
wall, cpu = time.perf_counter(), time.process_time()
with open(sys.argv[1], "rb") as handle:
    parsed = tomllib.load(handle)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
assert len(parsed["subscribers"]) == int(sys.argv[2])
print(json.dumps([wall, cpu]))
"""


def parse_in_child(path: Path, count: int) -> tuple[float, float]:
    """(wall s, CPU s) of tomllib parsing the file, in a child of its own: parsed here, the
    whole document would swell this process, and every child forked from it would start with
    that RSS counted as its own."""
    out = subprocess.run(
        [sys.executable, "-c", PARSE, str(path), str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall, cpu = json.loads(out)
    return float(wall), float(cpu)


def postgres_database(server: str) -> tuple[str, object] | None:
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        base = make_url(server)
        admin_url = base.set(drivername="postgresql", database="postgres")
        admin = psycopg.connect(
            admin_url.render_as_string(hide_password=False), autocommit=True, connect_timeout=3
        )
    except Exception as exc:
        print(f"PostgreSQL at {server} not reachable ({exc}): SQLite only")
        return None
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False), (admin, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "profiles.toml"
        write_profiles(path, args.profiles)
        size = path.stat().st_size / 1e6
        floor, floor_cpu = parse_in_child(path, args.profiles)
        print(f"{args.profiles:,} profiles, {size:.1f} MB of TOML")
        print(
            f"baseline tomllib.loads of the whole file: {floor:.2f} s wall, {floor_cpu:.2f} s CPU"
        )

        targets = [("SQLite", f"sqlite:///{folder / 'digest.db'}", None)]
        if not args.no_postgres:
            found = postgres_database(args.postgres)
            if found is not None:
                targets.append(("PostgreSQL", found[0], found[1]))
        try:
            for label, url, _ in targets:
                wall, cpu, rss = run_import(path, url)
                print(
                    f"{label}: digest subscribers import {wall:.1f} s wall, {cpu:.1f} s CPU, "
                    f"peak RSS {rss} MB; {wall / floor:.1f}x tomllib's wall, "
                    f"{cpu / floor_cpu:.1f}x its CPU "
                    f"({args.profiles / wall:,.0f} profiles/s)"
                )
        finally:
            for _label, _url, cleanup in targets:
                if cleanup is not None:
                    admin, name = cleanup  # type: ignore[misc]
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    admin.close()


if __name__ == "__main__":
    main()
