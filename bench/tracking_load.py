"""Benchmark: the tracking endpoints (open pixel, click redirect) under load from a second
process on loopback, through the real app server (``closedloop serve``, uvicorn).

    .venv/bin/python bench/tracking_load.py --persons 10000 --seconds 20 --connections 32
    .venv/bin/python bench/tracking_load.py --database-url \
        postgresql+psycopg://postgres@127.0.0.1:5432/bench_tracking

The base is built from files through the product's commands (``closedloop init``, persons
and consents CSVs through ``closedloop import``, the template through ``closedloop channels
templates add``: :func:`send_email.build`); the wave's ledger rows are then marked sent by a
library call (no SMTP server in this benchmark). The tracked addresses are those the sender
writes into each email (:func:`closedloop.campaigns.tracking.open_url` / ``click_url``):
70 % opens, 30 % clicks on three links, many repeated (one person opening twice…).

The load generator runs in its own process (``--client``): asyncio, HTTP/1.1 kept-alive
connections, each sending its next request when the answer came (closed loop), recording
each request's latency. Then the server is stopped with SIGTERM (a clean shutdown: the
write-behind writes what waits) and the database's count of hits (``sum(hits)`` of the
tracking responses) is compared with the count of answered requests: it must be equal.
Target (issue 18): ≥ 2,000 requests/s sustained, p99 ≤ 50 ms, no event lost. The machine is
shared: ``uptime`` is recorded before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine
from send_email import RESET_SCHEMA, build, cpu_seconds, uptime

CLI = str(Path(sys.executable).with_name("closedloop"))
LINKS = [f"https://shop.example.com/books/{i}?utm_campaign=BENCH" for i in (1, 2, 3)]

MARK_SENT = """
import json, sys
from datetime import UTC, datetime, timedelta
from sqlalchemy import select, update
from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.campaigns.models import Communication
from closedloop.campaigns import tracking
links = json.loads(sys.argv[2])
with unit_of_work(get_session_factory(get_engine())) as s:
    s.execute(update(Communication).where(Communication.wave_id == int(sys.argv[1]))
              .values(status="sent", sent_at=datetime.now(UTC) - timedelta(hours=2)))
    ids = list(s.scalars(select(Communication.id).where(Communication.wave_id == int(sys.argv[1]))))
from urllib.parse import urlsplit
out = {"open": [urlsplit(tracking.open_url(i)).path for i in ids],
       "click": [urlsplit(tracking.click_url(i, u)).path for i in ids for u in links]}
print(json.dumps(out))
"""

COUNT = """
import sys
from sqlalchemy import create_engine, text
with create_engine(sys.argv[1]).connect() as c:
    row = c.execute(text("SELECT coalesce(sum(hits), 0), count(*) FROM responses "
                         "WHERE source_system = 'tracking'")).one()
    print(int(row[0]), int(row[1]))
"""


async def _worker(
    host: str,
    port: int,
    paths: list[str],
    until: float,
    lat: list[float],
    codes: dict[int, int],
    seed: int,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    rnd = random.Random(seed)
    try:
        while time.perf_counter() < until:
            path = rnd.choice(paths)
            req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 bench\r\n\r\n"
            start = time.perf_counter()
            writer.write(req.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - start)
            code = int(head.split(b" ", 2)[1])
            codes[code] = codes.get(code, 0) + 1
    finally:
        writer.close()


async def _client(host: str, port: int, paths: list[str], seconds: float, conns: int) -> dict:
    lat: list[float] = []
    codes: dict[int, int] = {}
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_worker(host, port, paths, until, lat, codes, n) for n in range(conns)))
    elapsed = time.perf_counter() - started
    lat.sort()

    def pct(p: float) -> float:
        return round(1000 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 2) if lat else 0.0

    return {
        "requests": len(lat),
        "seconds": round(elapsed, 2),
        "rate": round(len(lat) / elapsed),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_ms": round(1000 * lat[-1], 2) if lat else 0.0,
        "codes": codes,
    }


def client_main(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.paths).read_text())
    paths = data["open"] * 7 + data["click"]  # opens 70 %, clicks 30 % (3 links a message)
    rng = random.Random(7)
    rng.shuffle(paths)
    result = asyncio.run(_client("127.0.0.1", args.port, paths, args.seconds, args.connections))
    print(json.dumps(result))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server stopped before it was ready")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def run(url: str, folder: Path, args: argparse.Namespace) -> dict:
    env = {
        **os.environ,
        "CLOSEDLOOP_DATABASE_URL": url,
        "CLOSEDLOOP_SECRET_KEY": "bench-secret",
        "CLOSEDLOOP_PUBLIC_BASE_URL": "https://crm.example.com",
    }
    if args.flush_ms is not None:
        env["CLOSEDLOOP_TRACKING_FLUSH_MS"] = str(args.flush_ms)
    started = time.perf_counter()
    paths_file = folder / "paths.json"
    if args.reuse and paths_file.exists():
        return _load(url, env, paths_file, args, started)
    if url.startswith("postgresql"):
        subprocess.run([sys.executable, "-c", RESET_SCHEMA, url], check=True)
    wave_id = build(folder, args.persons, env)
    out = subprocess.run(
        [sys.executable, "-c", MARK_SENT, str(wave_id), json.dumps(LINKS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    paths_file.write_text(out.stdout)
    return _load(url, env, paths_file, args, started)


def _count(url: str, env: dict[str, str]) -> tuple[int, int]:
    got = subprocess.run(
        [sys.executable, "-c", COUNT, url], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(got[0]), int(got[1])


def _load(
    url: str, env: dict[str, str], paths_file: Path, args: argparse.Namespace, started: float
) -> dict:
    print(
        f"base of {args.persons:,} ready in {time.perf_counter() - started:.0f} s "
        f"({url.split(':')[0]})"
    )
    hits0, rows0 = _count(url, env)
    port = free_port()
    server = subprocess.Popen(
        [CLI, "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(port, server)
        before = uptime()
        cpu_before = cpu_seconds(server.pid)
        load = subprocess.run(
            [
                sys.executable,
                __file__,
                "--client",
                "--paths",
                str(paths_file),
                "--port",
                str(port),
                "--seconds",
                str(args.seconds),
                "--connections",
                str(args.connections),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(load.stdout)
        server_cpu = cpu_seconds(server.pid) - cpu_before
        after = uptime()
    finally:
        # SIGTERM: a clean shutdown, the write-behind empties; --kill: a crash (SIGKILL)
        server.send_signal(signal.SIGKILL if args.kill else signal.SIGTERM)
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
    hits1, rows1 = _count(url, env)
    answered = sum(v for k, v in result["codes"].items() if int(k) in (200, 302))
    result.update(
        store="postgresql" if url.startswith("postgresql") else "sqlite",
        answered=answered,
        hits_in_db=hits1 - hits0,
        rows_in_db=rows1 - rows0,
        lost=answered - (hits1 - hits0),
        load_before=before,
        load_after=after,
        server_cpu_s=round(server_cpu, 2),
        cpu_ms_per_request=round(1000 * server_cpu / max(1, result["requests"]), 3),
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--flush-ms", type=int, default=None, help="CLOSEDLOOP_TRACKING_FLUSH_MS")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--keep", type=Path, help="folder for the base and files (kept)")
    parser.add_argument(
        "--kill", action="store_true", help="stop the server with SIGKILL (measure the loss)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="use the base already in --keep (no rebuild)"
    )
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Machine: {machine()}")
    url = args.database_url or f"sqlite:///{folder / 'tracking.db'}"
    r = run(url, folder, args)
    print(json.dumps(r, indent=2))
    print(
        "\n| store | requests | seconds | req/s | p50 ms | p99 ms | answered | hits in DB | lost "
        "| server CPU ms/request | load before → after |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {r['store']} | {r['requests']:,} | {r['seconds']} | {r['rate']:,} | {r['p50_ms']} | "
        f"{r['p99_ms']} | {r['answered']:,} | {r['hits_in_db']:,} | {r['lost']} | "
        f"{r['cpu_ms_per_request']} | "
        f"{r['load_before'].split('average: ')[-1]} → {r['load_after'].split('average: ')[-1]} |"
    )


if __name__ == "__main__":
    main()
