"""Side by side: the review app's submit & next at a git ref (default b30d06e) and in the working
tree, in one run on the same machine.

    .venv/bin/python bench/compare_review_load.py                       # b30d06e vs working tree
    .venv/bin/python bench/compare_review_load.py --base main --rounds 3 --duration 30

The ref is checked out in a temporary git worktree (removed afterwards). Each side gets its own
PostgreSQL database (review_cmp_base, review_cmp_head: dropped and created anew), migrated by its
own code (`manage.py migrate` in that tree). Then each side's OWN bench/review_load.py runs in
its tree (so it imports that tree's code and starts gunicorn on it) with the same arguments, in
rounds: base then head in odd rounds, head then base in even ones, so a machine that slows down
or warms up during the run favours neither. Both sides use the Python running this script.

Printed at the end: per round and side, the submit & next latency (p50/p95/p99), all requests
per second, the server's CPU time per request (gunicorn processes, Linux), and the ratio
head / base of the CPU time per request, per round and over all rounds. The runs' own output is
shown as it comes, prefixed with [base 1], [head 1], ….
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parent.parent
DATABASES = {"base": "review_cmp_base", "head": "review_cmp_head"}
SECRET_KEY = "bench-only-secret-key-" + "x" * 40

SUBMIT_ROW = re.compile(
    r"^submit & next \(POST\)\s+(?P<count>\d+)\s+(?P<rate>[\d.]+)\s+(?P<p50>[\d.]+)\s+"
    r"(?P<p95>[\d.]+)\s+(?P<p99>[\d.]+)\s+(?P<max>[\d.]+)"
)
ALL_REQUESTS = re.compile(r"^all requests: (?P<total>\d+) in [\d.]+ s = (?P<rate>[\d.]+) req/s")
SERVER_CPU = re.compile(r"^server CPU .*= (?P<ms>[\d.]+) ms per request")


@dataclass
class Run:
    side: str
    round: int
    status: int = 0
    output: list[str] = field(default_factory=list)
    submits: int | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    requests_per_second: float | None = None
    cpu_ms_per_request: float | None = None

    def parse(self) -> None:
        for line in self.output:
            if match := SUBMIT_ROW.match(line):
                self.submits = int(match["count"])
                self.p50, self.p95, self.p99 = (float(match[k]) for k in ("p50", "p95", "p99"))
            elif match := ALL_REQUESTS.match(line):
                self.requests_per_second = float(match["rate"])
            elif match := SERVER_CPU.match(line):
                self.cpu_ms_per_request = float(match["ms"])


def database_url(server: str, name: str) -> str:
    parts = urllib.parse.urlsplit(server)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def recreate_databases(server: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(database_url(server, "postgres"), autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')


def drop_databases(server: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(database_url(server, "postgres"), autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tree_env(tree: Path, database: str) -> dict[str, str]:
    """The environment of one side's commands: its database, and its tree first on the path
    (ahead of the editable install of the working tree in the virtual environment)."""
    return {
        **os.environ,
        "DATABASE_URL": database,
        "PYTHONPATH": str(tree),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or SECRET_KEY,
        "STATIC_MANIFEST": "0",
    }


def check_code_root(side: str, tree: Path, env: dict[str, str]) -> None:
    """Stop unless `side`'s Python imports the review app from its own tree."""
    found = subprocess.run(
        [sys.executable, "-c", "import reviewapp; print(reviewapp.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{side}: reviewapp is imported from {found}, not from {tree}")


def migrate(side: str, tree: Path, env: dict[str, str]) -> None:
    print(f"Migrating {side} ({tree}) into {env['DATABASE_URL']} …", flush=True)
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity=0"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.stdout.write(result.stdout + result.stderr)
        raise SystemExit(f"{side}: migrate failed with status {result.returncode}")


def run_bench(run: Run, tree: Path, env: dict[str, str], bench_args: list[str]) -> Run:
    prefix = f"[{run.side} {run.round}]"
    print(f"\n{prefix} bench/review_load.py {' '.join(bench_args)}", flush=True)
    process = subprocess.Popen(
        [sys.executable, "bench/review_load.py", *bench_args],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip("\n")
        run.output.append(line)
        print(f"{prefix} {line}", flush=True)
    run.status = process.wait()
    run.parse()
    return run


def figure(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def ratio(head: float | None, base: float | None) -> str:
    return "-" if head is None or not base else f"{head / base:.2f}"


def print_table(runs: list[Run], base_label: str, head_label: str) -> None:
    labels = {"base": base_label, "head": head_label}
    print(f"\nbase = {base_label}, head = {head_label}")
    print("submits and p50/p95/p99: submit & next (POST); req/s and CPU: all requests of the run\n")
    columns = ("round", "side", "submits", "p50 ms", "p95 ms", "p99 ms", "req/s", "CPU ms/req")
    print(f"{columns[0]:>5} {columns[1]:<6}" + "".join(f" {c:>10}" for c in columns[2:]))
    for run in sorted(runs, key=lambda r: (r.round, r.side)):
        cells = [
            figure(run.submits, "d"),
            figure(run.p50),
            figure(run.p95),
            figure(run.p99),
            figure(run.requests_per_second),
            figure(run.cpu_ms_per_request, ".2f"),
        ]
        status = "" if run.status == 0 else f"  (exit status {run.status})"
        print(f"{run.round:>5} {run.side:<6}" + "".join(f" {c:>10}" for c in cells) + status)

    def cpu(side: str, round_: int | None = None) -> list[float]:
        return [
            r.cpu_ms_per_request
            for r in runs
            if r.side == side
            and r.cpu_ms_per_request is not None
            and (round_ is None or r.round == round_)
        ]

    print("\nserver CPU per request, head / base:")
    for round_ in sorted({r.round for r in runs}):
        head, base = cpu("head", round_), cpu("base", round_)
        print(f"  round {round_}: {ratio(head[0] if head else None, base[0] if base else None)}")
    head, base = cpu("head"), cpu("base")
    if head and base:
        print(
            f"  all rounds: {mean(head):.2f} / {mean(base):.2f} ms = "
            f"{ratio(mean(head), mean(base))} ({labels['head']} vs {labels['base']})"
        )
    else:
        print("  all rounds: - (no CPU figures: the server's CPU time is read on Linux only)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Options after `--` go to both bench/review_load.py runs as they are "
        "(e.g. -- --labels-per-item 2).",
    )
    parser.add_argument("--base", default="b30d06e", help="git ref to compare (default b30d06e)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of base + head (2)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("COMPARE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server for the two databases (default $COMPARE_POSTGRES_URL or "
        "postgres://postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--keep-databases", action="store_true", help="keep the two databases afterwards"
    )
    bench = parser.add_argument_group("passed to bench/review_load.py on both sides")
    bench.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    bench.add_argument("--threads", type=int, default=1, help="threads per worker (1: sync)")
    bench.add_argument("--labelers", type=int, default=50, help="simulated labelers (50)")
    bench.add_argument("--items", type=int, default=5000, help="items in each run's session (5000)")
    bench.add_argument("--think", type=float, default=1.0, help="think time, seconds (1)")
    bench.add_argument("--duration", type=float, default=60.0, help="seconds per run (60)")
    args, extra = parser.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)} (put them after --)")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    bench_args = [
        f"--workers={args.workers}",
        f"--threads={args.threads}",
        f"--labelers={args.labelers}",
        f"--items={args.items}",
        f"--think={args.think:g}",
        f"--duration={args.duration:g}",
        *extra,
    ]

    base_commit = subprocess.run(
        ["git", "rev-parse", "--short", f"{args.base}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if base_commit.returncode:
        raise SystemExit(f"not a commit: {args.base}\n{base_commit.stderr.strip()}")
    head_commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    base_label = f"{args.base} ({base_commit.stdout.strip()})"
    head_label = f"working tree ({head_commit}{', with changes' if dirty else ''})"

    scratch = Path(tempfile.mkdtemp(prefix="review-cmp-"))
    base_tree = scratch / "base"
    runs: list[Run] = []
    try:
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(base_tree), args.base],
            cwd=ROOT,
            check=True,
        )
        trees = {"base": base_tree, "head": ROOT}
        urls = {side: database_url(args.postgres, name) for side, name in DATABASES.items()}
        print(f"Base: {base_label} in {base_tree}\nHead: {head_label} in {ROOT}", flush=True)
        recreate_databases(args.postgres, list(DATABASES.values()))
        envs = {side: tree_env(trees[side], urls[side]) for side in trees}
        for side in ("base", "head"):
            check_code_root(side, trees[side], envs[side])
            migrate(side, trees[side], envs[side])

        for round_ in range(1, args.rounds + 1):
            order = ("base", "head") if round_ % 2 else ("head", "base")
            for side in order:
                runs.append(
                    run_bench(Run(side=side, round=round_), trees[side], envs[side], bench_args)
                )
    finally:
        if base_tree.exists():
            removed = subprocess.run(
                ["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False
            )
            if removed.returncode:
                print(f"could not remove the worktree {base_tree}", file=sys.stderr)
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep_databases:
            try:
                drop_databases(args.postgres, list(DATABASES.values()))
            except Exception as exc:
                print(f"could not drop the databases: {exc}", file=sys.stderr)

    print_table(runs, base_label, head_label)
    failed = [run for run in runs if run.status]
    if failed:
        print(f"\n{len(failed)} run(s) failed: see their output above.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
