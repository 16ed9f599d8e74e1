"""Start-up time of the command line: ``closedloop --help`` and ``closedloop persons list`` on
a demo base, side by side with another program's ``--help`` (e.g. sqlite-utils, installed in a
throwaway venv), measured with hyperfine when it is installed (``apt-get install hyperfine``),
else by this script (wall and CPU time of each run).

Prints a markdown table: median wall time, mean user and system CPU time, and the load average
before and after (wall times mean little on a busy machine: compare the CPU times).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import machine

HERE = Path(__file__).parent
CLI = str(Path(sys.executable).parent / "closedloop")


def _seed(env: dict[str, str], persons: int) -> None:
    """Fill the base with the demo data when it has no persons yet."""
    listed = subprocess.run(
        [CLI, "persons", "list", "--limit", "1", "--json"], env=env, capture_output=True, text=True
    )
    if listed.returncode == 0 and json.loads(listed.stdout)["total"] > 0:
        return
    subprocess.run([CLI, "seed", "demo", "--persons", str(persons), "--json"], env=env, check=True)


def _hyperfine(commands: list[str], runs: int, env: dict[str, str]) -> list[dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "times.json"
        hyperfine = ["hyperfine", "-N", "--warmup", "2", "--runs", str(runs)]
        subprocess.run(
            [*hyperfine, "--export-json", str(out), *commands],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results = json.loads(out.read_text())["results"]
    return [{"wall": r["median"], "user": r["user"], "system": r["system"]} for r in results]


def _loop(commands: list[str], runs: int, env: dict[str, str]) -> list[dict[str, float]]:
    found = []
    for command in commands:
        args = command.split()
        for _ in range(2):
            subprocess.run(args, env=env, stdout=subprocess.DEVNULL, check=True)
        walls, users, systems = [], [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(args, env=env, stdout=subprocess.DEVNULL, check=True)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            users.append(after.ru_utime - before.ru_utime)
            systems.append(after.ru_stime - before.ru_stime)
        found.append(
            {
                "wall": statistics.median(walls),
                "user": statistics.mean(users),
                "system": statistics.mean(systems),
            }
        )
    return found


#: What ``persons list`` spends its CPU time on, step by step, in one process (an internal
#: timing, beside the command's own figures).
BREAKDOWN = """
import contextlib, io, sys, time
marks = [("interpreter", time.process_time())]
def mark(name):
    marks.append((name, time.process_time()))
import typer, rich.table; mark("Typer and Rich")
import sqlalchemy.orm; mark("SQLAlchemy ORM")
import pydantic_settings; mark("pydantic-settings")
import closedloop.cli.persons; mark("the persons command's modules (contacts, audit models)")
from closedloop.cli.main import app
sys.argv = ["closedloop", "persons", "list"]
with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
    app()
mark("the command (engine, mappers of those models, count, page, audit write, table)")
previous = 0.0
for name, at in marks:
    print(f"| {name} | {(at - previous) * 1000:.0f} ms |")
    previous = at
print(f"| total | {previous * 1000:.0f} ms |")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=f"sqlite:///{HERE / 'out' / 'bench-cli.db'}")
    parser.add_argument("--persons", type=int, default=20_000, help="demo base size")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--compare", help="another program to time with --help (sqlite-utils)")
    args = parser.parse_args()
    (HERE / "out").mkdir(exist_ok=True)
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": args.database_url}
    # As a user's install runs: the modules' bytecode is cached after the first run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    _seed(env, args.persons)
    commands = [f"{CLI} --help", f"{CLI} persons list", f"{CLI} persons list --json"]
    if args.compare:
        commands.append(f"{args.compare} --help")
    load_before = os.getloadavg()[0]
    timer = _hyperfine if shutil.which("hyperfine") else _loop
    results = timer(commands, args.runs, env)
    load_after = os.getloadavg()[0]
    print(f"{machine()}; timer: {timer.__name__.strip('_')}, {args.runs} runs")
    print(f"load average (1 min): {load_before:.1f} before, {load_after:.1f} after\n")
    print("| command | wall (median) | user CPU | system CPU |")
    print("|---|---|---|---|")
    for command, r in zip(commands, results, strict=True):
        shown = command.replace(CLI, "closedloop")
        print(
            f"| `{shown}` | {r['wall'] * 1000:.0f} ms | {r['user'] * 1000:.0f} ms "
            f"| {r['system'] * 1000:.0f} ms |"
        )
    print("\n| `closedloop persons list`, step by step | CPU |\n|---|---|")
    subprocess.run([sys.executable, "-c", BREAKDOWN], env=env, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
