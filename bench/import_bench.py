"""Benchmark: import of MLflow trace JSON (traces/s, spans/s).

    .venv/bin/python bench/import_bench.py       # SQLite, in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import \
        .venv/bin/python bench/import_bench.py

Generates TRACES traces of SPANS spans each in MLflow's `Trace.to_json()` shape (base64 span ids,
JSON-encoded attributes, two assessments per trace, one overriding the other), writes them as
JSONL files of FILE_SIZE traces, and imports them the way `manage.py import_traces` does (one
transaction per file). Prints parse + write figures, then the time of a second import of the
same files (everything already present). On PostgreSQL the database in DATABASE_URL is created
when missing and migrated; the benchmark's experiment is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--spans", type=int, default=20, help="spans per trace")
    parser.add_argument("--file-size", type=int, default=200, help="traces per JSONL file")
    parser.add_argument(
        "--output-chars", type=int, default=400, help="characters of each span's output"
    )
    return parser.parse_args()


def setup_django(tmp: Path) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    if url.startswith(("postgres://", "postgresql://")):
        create_postgres_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def create_postgres_database(url: str) -> None:
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    name = config["NAME"]
    if name in {"test", "postgres"}:
        sys.exit(f"refusing to benchmark in the shared database {name!r}: name your own")
    admin = psycopg.connect(
        dbname="postgres",
        user=config["USER"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        password=config["PASSWORD"] or None,
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def write_files(tmp: Path, args: argparse.Namespace) -> tuple[list[Path], int]:
    from tests.factories import mlflow_feedback_json, mlflow_trace_json

    files, spans = [], 0
    for start in range(0, args.traces, args.file_size):
        path = tmp / f"traces-{start // args.file_size:04d}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for number in range(start, min(start + args.file_size, args.traces)):
                judge = mlflow_feedback_json(value=False, valid=False)
                human = mlflow_feedback_json(value=True, overrides=judge["assessment_id"])
                document = mlflow_trace_json(
                    trace_id=f"tr-bench{number:024d}",
                    spans=args.spans,
                    assessments=[judge, human],
                    output_chars=args.output_chars,
                    start_ns=1_750_000_000_000_000_000 + number * 10_000_000_000,
                )
                out.write(json.dumps(document) + "\n")
                spans += args.spans
        files.append(path)
    return files, spans


def run(files: list[Path], experiment) -> tuple[float, float, int, int]:
    """Wall-clock and CPU seconds (of this process: parsing and Django, not the database
    server), traces imported, traces already present."""
    from traces.mlflow_json import import_trace_file

    imported = present = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for path in files:
        result = import_trace_file(experiment=experiment, data=path.read_bytes(), name=path.name)
        if not result.ok:
            sys.exit(f"{path}: {result.error}")
        imported += len(result.imported)
        present += len(result.already_present)
    return (
        time.perf_counter() - started,
        time.process_time() - cpu_started,
        imported,
        present,
    )


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as name:
        tmp = Path(name)
        url = setup_django(tmp)
        from django.db import connection

        from traces.models import Experiment, Span

        files, total_spans = write_files(tmp, args)
        size = sum(p.stat().st_size for p in files)
        experiment = Experiment.objects.create(name=f"import-bench-{time.time_ns()}")
        try:
            seconds, cpu, imported, _ = run(files, experiment)
            assert imported == args.traces, imported
            assert Span.objects.filter(trace__experiment=experiment).count() == total_spans
            again, _, _, present = run(files, experiment)
            assert present == args.traces, present
        finally:
            experiment.delete()

        print(f"database        {connection.vendor} ({url.split('@')[-1]})")
        print(
            f"input           {args.traces:,} traces x {args.spans} spans = {total_spans:,} spans, "
            f"{len(files)} JSONL files, {size / 1e6:.1f} MB"
        )
        print(f"import          {seconds:.2f} s wall, {cpu:.2f} s CPU in this process")
        print(f"traces/s        {args.traces / seconds:,.0f}")
        print(f"spans/s         {total_spans / seconds:,.0f}")
        print(f"load average    {os.getloadavg()[0]:.1f} (other work on the machine skews figures)")
        print(f"re-import       {again:.2f} s ({args.traces / again:,.0f} traces/s, all skipped)")


if __name__ == "__main__":
    main()
