"""Benchmark: personalised campaign emails (HTML + text, tracked links, one-click
unsubscribe) delivered to a local SMTP sink by ``closedloop channels send``.

    .venv/bin/python bench/send_email.py --persons 100000 --sink aiosmtpd
    .venv/bin/python bench/send_email.py --persons 100000 --sink smtp-sink
    .venv/bin/python bench/send_email.py --persons 100000 --sink both --database-url \
        postgresql+psycopg://postgres@127.0.0.1:5432/bench_send

The base is built from files through the product's commands: ``closedloop init``, a persons
CSV and a consents CSV through ``closedloop import``, the template through ``closedloop
channels templates add``. The campaign, its cell and the queued ledger rows are written by
library calls (the campaign commands that extract a wave come with the campaign pages).
Then ``closedloop channels send WAVE --json`` runs in its own process and is timed; its CPU
time and the sink's are read from the kernel (``/proc``).

Sinks: ``aiosmtpd`` (Python, run as ``python -m aiosmtpd`` in its own process, discards
messages) and Postfix's ``smtp-sink`` (C; shows the sink's own limit). smtp-sink is in the
Debian package ``postfix``: ``apt-get install -y postfix`` (choose "No configuration"; the
benchmark never starts Postfix itself). Target (issue 17): 100,000 emails at ≥ 1,000/s.
The machine is shared: ``uptime`` is recorded before and after each run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine

CLI = str(Path(sys.executable).with_name("closedloop"))
HTML = """<html><head><style>
body { font-family: Georgia, serif; color: #222; } .cta { background: #0a5; color: #fff;
padding: 8px 14px; text-decoration: none; } td { padding: 4px 8px; } .small { font-size: 12px;
color: #777; }</style></head><body>
<p>Hello {{ person.given_name | default("reader") }},</p>
<p>New this month in the {{ offer.name }}: three books chosen for you, from
{{ offer.price | money }} a month.</p>
<table><tr><td><a href="https://shop.example.com/books/1?utm_campaign={{ campaign.code }}">The
Old Man and the Sea</a></td></tr><tr><td><a href="https://shop.example.com/books/2?utm_campaign={{
campaign.code }}">Madame Bovary</a></td></tr><tr><td><a
href="https://shop.example.com/books/3?utm_campaign={{ campaign.code }}">Dream of the Red
Chamber</a></td></tr></table>
<p><a class="cta" href="https://shop.example.com/club?member={{ person.id }}">Join the club</a></p>
<p class="small">You get this email because you asked for our offers.
<a href="{{ preferences_url }}">Your preferences</a> ·
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


def sh(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def build(folder: Path, persons: int, env: dict[str, str]) -> int:
    """A fresh base with ``persons`` consenting persons and a wave queued for all of them."""
    people, consents = folder / "persons.csv", folder / "consents.csv"
    with people.open("w", newline="") as p, consents.open("w", newline="") as c:
        pw, cw = csv.writer(p), csv.writer(c)
        pw.writerow(["external_id", "given_name", "family_name", "email", "language"])
        cw.writerow(
            ["person_external_id", "channel", "purpose", "state", "occurred_at", "proof_text"]
        )
        for i in range(persons):
            pw.writerow(
                [
                    f"p{i}",
                    f"Reader{i % 997}",
                    f"Family{i}",
                    f"reader{i}@example.com",
                    "en" if i % 3 else "fr",
                ]
            )
            cw.writerow(
                [
                    f"p{i}",
                    "email",
                    "marketing",
                    "granted",
                    "2026-01-15T10:00:00",
                    "Yes, send me the book club offers.",
                ]
            )
    sh("init", env=env)
    sh("import", "persons", str(people), "--source", "bench", env=env)
    sh("import", "consents", str(consents), "--source", "bench", env=env)
    template = folder / "template.json"
    template.write_text(
        json.dumps(
            {
                "code": "book-club",
                "name": "Book club",
                "channel": "email",
                "default_locale": "en",
                "contents": [
                    {
                        "locale": "en",
                        "subject": "{{ person.given_name }}, three books for you",
                        "body": HTML,
                    },
                    {
                        "locale": "fr",
                        "subject": "{{ person.given_name }}, trois livres pour vous",
                        "body": HTML.replace("Hello", "Bonjour"),
                    },
                ],
            }
        )
    )
    template_id = json.loads(sh("channels", "templates", "add", str(template), "--json", env=env))[
        "id"
    ]
    script = """
import os
from decimal import Decimal
from sqlalchemy import select
from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.campaigns.models import Campaign, Cell, Offer, Wave
from closedloop.campaigns.ledger import queue_rows
from closedloop.contacts.models import Person
with unit_of_work(get_session_factory(get_engine())) as s:
    offer = Offer(code="club", name="Book club", price=Decimal("9.90"))
    campaign = Campaign(code="BENCH", name="Bench", currency="EUR")
    s.add_all([offer, campaign]); s.flush()
    wave = Wave(campaign_id=campaign.id, name="W1")
    cell = Cell(campaign_id=campaign.id, code="A", name="A", channel="email",
                offer_id=offer.id, template_id=int(os.environ['BENCH_TEMPLATE_ID']))
    s.add_all([wave, cell]); s.flush()
    ids = list(s.scalars(select(Person.id).order_by(Person.id)))
    queue_rows(s, wave.id, cell.id, ids)
    print(wave.id)
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "BENCH_TEMPLATE_ID": str(template_id)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip().splitlines()[-1])


RESET_SCHEMA = """
import sys
from sqlalchemy import create_engine, text
with create_engine(sys.argv[1]).begin() as c:
    c.execute(text("DROP SCHEMA public CASCADE"))
    c.execute(text("CREATE SCHEMA public"))
"""
REQUEUE = """
import sys
from sqlalchemy import delete, update
from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.campaigns.models import Communication, SendRun
from closedloop.db.uow import unit_of_work
wave = int(sys.argv[1])
with unit_of_work(get_session_factory(get_engine())) as s:
    s.execute(update(Communication).where(Communication.wave_id == wave).values(
        status="queued", attempts=0, external_ref=None, sent_at=None, detail=None))
    s.execute(delete(SendRun).where(SendRun.wave_id == wave))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "aiosmtpd":
        cmd = [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    else:
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not Path(binary).exists():
            raise SystemExit("smtp-sink not found: apt-get install -y postfix")
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root
        cmd = [binary, *user, f"127.0.0.1:{port}", "1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the {kind} sink did not start")


def send(wave_id: int, sink: str, env: dict[str, str], connections: int) -> dict[str, object]:
    port = free_port()
    sink_proc = start_sink(sink, port)
    run_env = {
        **env,
        "CLOSEDLOOP_SMTP_HOST": "127.0.0.1",
        "CLOSEDLOOP_SMTP_PORT": str(port),
        "CLOSEDLOOP_DELIVERY_IS_TEST_SINK": "true",
        "CLOSEDLOOP_SMTP_CONNECTIONS": str(connections),
    }
    load_before = uptime()
    sink_cpu0 = cpu_seconds(sink_proc.pid)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [CLI, "channels", "send", str(wave_id), "--json"],
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    before = os.times()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    after = os.times()
    sink_cpu = cpu_seconds(sink_proc.pid) - sink_cpu0
    sink_proc.terminate()
    sink_proc.wait()
    if proc.returncode != 0:
        raise SystemExit(err.decode())
    report = json.loads(out)
    return {
        "sink": sink,
        "sent": report["sent"],
        "seconds": round(seconds, 1),
        "command_seconds": report["seconds"],
        "rate": round(report["sent"] / report["seconds"]),
        "sender_cpu": round(
            after.children_user
            + after.children_system
            - before.children_user
            - before.children_system,
            1,
        ),
        "sink_cpu": round(sink_cpu, 1),
        "load_before": load_before,
        "load_after": uptime(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--sink", choices=("aiosmtpd", "smtp-sink", "both"), default="both")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--keep", type=Path, help="folder for the base and files (kept)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-send-"))
    folder.mkdir(parents=True, exist_ok=True)
    sinks = ["aiosmtpd", "smtp-sink"] if args.sink == "both" else [args.sink]
    print(f"Machine: {machine()}")
    rows = []
    url = args.database_url or f"sqlite:///{folder / 'send.db'}"
    env = {
        **os.environ,
        "CLOSEDLOOP_DATABASE_URL": url,
        "CLOSEDLOOP_SECRET_KEY": "bench-secret",
        "CLOSEDLOOP_PUBLIC_BASE_URL": "https://crm.example.com",
    }
    if args.database_url:
        subprocess.run([sys.executable, "-c", RESET_SCHEMA, url], check=True)
    started = time.perf_counter()
    wave_id = build(folder, args.persons, env)
    print(f"base of {args.persons:,} built in {time.perf_counter() - started:.0f} s")
    for n, sink in enumerate(sinks):
        if n:  # the same wave again: its rows queued anew
            subprocess.run([sys.executable, "-c", REQUEUE, str(wave_id)], env=env, check=True)
        rows.append(send(wave_id, sink, env, args.connections))
    print(
        "\n| sink | emails | seconds | emails/s | sender CPU s | sink CPU s | load before → after |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['sink']} | {r['sent']:,} | {r['command_seconds']} | {r['rate']:,} | "
            f"{r['sender_cpu']} | {r['sink_cpu']} | {str(r['load_before']).split('average: ')[-1]}"
            f" → {str(r['load_after']).split('average: ')[-1]} |"
        )


if __name__ == "__main__":
    main()
