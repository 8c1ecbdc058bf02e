"""`manage.py import_traces PATH [PATH …] --experiment NAME`: import MLflow trace JSON.

Each file is imported all or nothing; a bad file is reported with its problem and the others still
import. Exits with status 1 when any file failed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from traces.mlflow_json import FileResult, find_trace_files, import_trace_file
from traces.models import Experiment, LifecycleStage
from traces.services import validate_name


class ProgressBar:
    """A one-line progress bar on stderr.

    On a terminal it is redrawn in place (at most ten times a second, and only once the import
    has run for half a second, so small imports stay quiet); written to a file or a pipe (forced
    with --progress) it prints a plain line at each tenth of the way, which reads well in logs.
    """

    WIDTH = 28

    def __init__(self, stream: TextIO, *, total_files: int, interactive: bool) -> None:
        self.stream = stream
        self.total_files = max(total_files, 1)
        self.interactive = interactive
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_step = -1
        self.drawn = False
        self.line = ""

    def update(self, *, files_done: int, file_fraction: float, traces: int, final: bool = False):
        fraction = min((files_done + file_fraction) / self.total_files, 1.0)
        elapsed = time.monotonic() - self.started
        rate = traces / elapsed if elapsed > 0 else 0.0
        filled = round(fraction * self.WIDTH)
        file_number = min(files_done + (0 if final else 1), self.total_files)
        self.line = (
            f"Importing [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%}"
            f"  file {file_number}/{self.total_files}"
            f"  {traces:,} traces  {rate:,.0f} traces/s"
        )
        if self.interactive:
            now = time.monotonic()
            if final or (elapsed >= 0.5 and now - self.last_draw >= 0.1):
                self.stream.write("\r" + self.line + "\x1b[K")
                self.stream.flush()
                self.last_draw, self.drawn = now, True
        else:
            step = int(fraction * 10)
            if step > self.last_step or final:
                if not (final and step == self.last_step):
                    self.stream.write(self.line + "\n")
                    self.stream.flush()
                self.last_step = step
                self.drawn = True

    def clear(self) -> None:
        """Make room for a message while the bar is on screen."""
        if self.interactive and self.drawn:
            self.stream.write("\r\x1b[K")

    def redraw(self) -> None:
        if self.interactive and self.drawn:
            self.stream.write("\r" + self.line + "\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        if self.interactive and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = (
        "Import traces written by MLflow's Trace.to_json(): files holding one trace, a JSON list "
        "of traces or JSONL, or folders of such files (*.json, *.jsonl, recursively). Traces "
        "already present are skipped; a bad file is reported and rolled back, the others import."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Files or folders.")
        parser.add_argument(
            "--experiment",
            required=True,
            metavar="NAME",
            help="Experiment to import into (created when it does not exist).",
        )
        progress = parser.add_mutually_exclusive_group()
        progress.add_argument(
            "--progress",
            action="store_true",
            default=None,
            help="Always show progress on stderr (default: only on a terminal).",
        )
        progress.add_argument(
            "--no-progress", action="store_false", dest="progress", help="Never show progress."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        experiment = self._experiment(options["experiment"], announce=options["verbosity"] > 0)
        files, failed = find_trace_files(options["paths"])
        verbosity = options["verbosity"]
        stderr = self.stderr._out
        interactive = stderr.isatty() if hasattr(stderr, "isatty") else False
        show = interactive if options["progress"] is None else options["progress"]
        bar = (
            ProgressBar(stderr, total_files=len(files), interactive=interactive)
            if show and files
            else None
        )
        for result in failed:
            self._report_failure(result, bar)

        results: list[FileResult] = []
        traces_so_far = 0
        for index, path in enumerate(files):

            def on_progress(done: int, total: int, index: int = index, base: int = traces_so_far):
                if bar is not None:
                    bar.update(
                        files_done=index,
                        file_fraction=done / total if total else 1.0,
                        traces=base + done,
                    )

            result = self._import(experiment, path, on_progress)
            results.append(result)
            traces_so_far += len(result.imported) + len(result.already_present)
            if not result.ok:
                self._report_failure(result, bar)
            else:
                self._report_warnings(result, bar)
                if verbosity >= 2:
                    self._say(
                        f"{path}: {len(result.imported)} imported, "
                        f"{len(result.already_present)} already present",
                        bar,
                    )
            if bar is not None:
                bar.update(files_done=index + 1, file_fraction=0.0, traces=traces_so_far)
        if bar is not None:
            bar.update(files_done=len(files), file_fraction=0.0, traces=traces_so_far, final=True)
            bar.finish()

        self._summary(experiment, results, failed, quiet=verbosity == 0)

    # ---------------------------------------------------------------------------------------

    def _experiment(self, name: str, *, announce: bool) -> Experiment:
        try:
            name = validate_name(name)
        except ValidationError as exc:
            raise CommandError(f"--experiment: {' '.join(exc.messages)}") from None
        experiment, created = Experiment.objects.get_or_create(name=name)
        if experiment.lifecycle_stage == LifecycleStage.DELETED:
            raise CommandError(f'The experiment "{name}" is deleted; restore it or pick another.')
        if created and announce:
            self.stdout.write(f'Created experiment "{name}".')
        return experiment

    def _import(self, experiment: Experiment, path: Path, on_progress) -> FileResult:
        try:
            data = path.read_bytes()
        except OSError as exc:
            return FileResult(name=str(path), error=f"cannot read the file: {exc.strerror}.")
        return import_trace_file(
            experiment=experiment, data=data, name=str(path), on_progress=on_progress
        )

    def _say(self, message: str, bar: ProgressBar | None, *, error: bool = False) -> None:
        if bar is not None:
            bar.clear()
        if error:
            self.stderr.write(message)
        else:
            self.stdout.write(message)
        if bar is not None:
            bar.redraw()

    def _report_failure(self, result: FileResult, bar: ProgressBar | None) -> None:
        self._say(self.style.ERROR(f"FAILED {result.name}: {result.error}"), bar, error=True)

    def _report_warnings(self, result: FileResult, bar: ProgressBar | None) -> None:
        for warning in result.warnings:
            self._say(self.style.WARNING(f"warning: {result.name}: {warning}"), bar, error=True)

    def _summary(
        self,
        experiment: Experiment,
        results: list[FileResult],
        failed: list[FileResult],
        *,
        quiet: bool,
    ) -> None:
        ok = [r for r in results if r.ok]
        bad = failed + [r for r in results if not r.ok]
        if not quiet:
            imported = sum(len(r.imported) for r in ok)
            present = sum(len(r.already_present) for r in ok)
            spans = sum(r.spans for r in ok)
            assessments = sum(r.assessments for r in ok)
            files = len(results) + len(failed)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Imported {imported:,} {_plural(imported, 'trace')} "
                    f"({spans:,} {_plural(spans, 'span')}, "
                    f"{assessments:,} {_plural(assessments, 'assessment')}) "
                    f'into experiment "{experiment.name}" from {len(ok)} of {files} '
                    f"{_plural(files, 'file')}."
                )
            )
            if present:
                self.stdout.write(
                    f"Already present, skipped: {present:,} {_plural(present, 'trace')}."
                )
        if bad:
            raise CommandError(
                f"{len(bad)} {_plural(len(bad), 'file')} could not be imported: "
                + ", ".join(r.name for r in bad)
            )


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"
