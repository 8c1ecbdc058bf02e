"""Where the server's CPU goes in one submit & next, measured in-process, side by side with a git
ref (default b30d06e) on the same machine in one run.

    .venv/bin/python bench/review_cpu.py                    # b30d06e vs the working tree
    .venv/bin/python bench/review_cpu.py --requests 500 --rounds 3

`bench/review_load.py` measures the CPU of whole gunicorn processes under load; this one
answers *which part* of a request costs it. Each side gets its own PostgreSQL database
(review_cpu_base, review_cpu_head; dropped and created anew, migrated by that side's own code)
and runs in its own tree (the ref in a temporary git worktree): one labeler, a session with
three questions, HTMX submit & next requests through Django's request handler (no network, no
server), the first 30 as warm-up. It prints, per side and round, the median CPU per request
and the mean split into: compiling SQL (the ORM turning querysets into SQL), executing it (the
driver, including the wait for PostgreSQL's answer, which is not CPU of this process), template
rendering, and the rest (middleware, forms, views, the queue's own Python).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARTS = ("compile SQL", "execute SQL", "templates")


def _timed(spent: Counter, part: str, function):  # type: ignore[no-untyped-def]
    depth = 0

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal depth
        depth += 1
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            depth -= 1
            if depth == 0:  # nested calls (subqueries, included templates) count once
                spent[part] += time.process_time() - started

    return wrapper


def measure(requests: int) -> dict[str, float]:
    """Run in the tree of the current directory: `requests` submit & next, timed."""
    sys.path.insert(0, os.getcwd())
    # Plain HTTP through the test client: no redirect to HTTPS (as bench/review_load.py).
    os.environ.setdefault("SECURE_COOKIES", "0")
    from bench.review_load import create_campaign, setup_django

    setup_django()
    import random

    from django.db.backends import utils
    from django.db.models.sql import compiler
    from django.template import base
    from django.test import Client

    spent: Counter[str] = Counter()
    for klass in (
        compiler.SQLCompiler,
        compiler.SQLInsertCompiler,
        compiler.SQLUpdateCompiler,
        compiler.SQLDeleteCompiler,
    ):
        if "as_sql" in vars(klass):
            klass.as_sql = _timed(spent, "compile SQL", klass.as_sql)
    utils.CursorWrapper._execute = _timed(spent, "execute SQL", utils.CursorWrapper._execute)
    base.Template.render = _timed(spent, "templates", base.Template.render)

    campaign = create_campaign(labelers=1, items=requests + 100)
    cookie = next(iter(campaign.cookies.values()))
    client = Client(HTTP_HOST="127.0.0.1", HTTP_COOKIE=cookie, HTTP_X_CSRFTOKEN=campaign.csrf_token)
    response = client.post(f"/review/{campaign.session_id}/next/")
    if response.status_code != 302:
        raise SystemExit(f"claim answered {response.status_code}")
    path = response["Location"]
    rng = random.Random(1)
    times = []
    for index in range(requests + 30):
        if index == 30:
            spent.clear()
            times.clear()
        started = time.process_time()
        response = client.post(path + "submit/", campaign.answers(rng), HTTP_HX_REQUEST="true")
        times.append(time.process_time() - started)
        if response.status_code != 200:
            raise SystemExit(f"submit answered {response.status_code}")
        path = response["HX-Push-Url"]
    mean = statistics.mean(times)
    figures = {"median": statistics.median(times) * 1000, "mean": mean * 1000}
    for part in PARTS:
        figures[part] = spent[part] / requests * 1000
    figures["rest"] = figures["mean"] - sum(figures[part] for part in PARTS)
    return figures


def run_side(tree: Path, database: str, requests: int) -> dict[str, float]:
    from bench.compare_review_load import tree_env

    env = tree_env(tree, database)
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(requests)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{tree}: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="b30d06e", help="git ref to compare (default b30d06e)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per run (300)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of base + head (2)")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server to create the two databases on",
    )
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0

    from bench.compare_review_load import database_url, drop_databases, migrate, recreate_databases

    names = {"base": "review_cpu_base", "head": "review_cpu_head"}
    base_tree = Path(tempfile.mkdtemp(prefix="review-cpu-")) / "base"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(base_tree), args.base],
        cwd=ROOT,
        check=True,
    )
    trees = {"base": base_tree, "head": ROOT}
    rows = []
    try:
        recreate_databases(args.server, list(names.values()))
        for side, tree in trees.items():
            from bench.compare_review_load import tree_env

            migrate(side, tree, tree_env(tree, database_url(args.server, names[side])))
        for round_ in range(1, args.rounds + 1):
            order = ("base", "head") if round_ % 2 else ("head", "base")
            for side in order:
                figures = run_side(
                    trees[side], database_url(args.server, names[side]), args.requests
                )
                rows.append((round_, side, figures))
                print(f"round {round_} {side}: {figures['median']:.2f} ms median", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT)
        shutil.rmtree(base_tree.parent, ignore_errors=True)
        drop_databases(args.server, list(names.values()))

    print(f"\nCPU per submit & next, ms (base = {args.base}, head = working tree)")
    columns = ("median", "mean", *PARTS, "rest")
    print(f"{'round':>5} {'side':<5}" + "".join(f"{c:>13}" for c in columns))
    for round_, side, figures in rows:
        print(f"{round_:>5} {side:<5}" + "".join(f"{figures[c]:>13.2f}" for c in columns))
    medians = {
        side: statistics.median(f["median"] for _, s, f in rows if s == side) for side in trees
    }
    print(
        f"\nmedian over rounds: head {medians['head']:.2f} ms, base {medians['base']:.2f} ms,"
        f" head / base = {medians['head'] / medians['base']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
