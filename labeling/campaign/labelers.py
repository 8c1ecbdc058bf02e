"""Per-labeler statistics of a session: how much each labeler did, how fast, how often they
agree with the others and with the adjudicated answers, and their progress over time.

The counts come from `labeling.progress.labeler_figures`; agreement from the counts kept as
answers arrive (`labeling.tallies`), which match a full pass over the answers; progress is one
grouped query of submissions per hour.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from labeling.campaign.charts import LineChart, bucket_for, cumulative_chart
from labeling.models import LabelingSession
from labeling.progress import LabelerFigures, labeler_figures
from labeling.tallies import read_counts


@dataclass(frozen=True)
class Share:
    """`matched` of `total` comparisons; `value` is None when there was nothing to compare."""

    matched: int
    total: int

    @property
    def value(self) -> float | None:
        return self.matched / self.total if self.total else None


@dataclass(frozen=True)
class LabelerRow:
    progress: LabelerFigures
    colour: int | None  # their line's colour in the chart, None when they submitted nothing
    with_others: Share  # their answer vs each other labeler's on the same question and item
    with_others_items: int  # the items those comparisons come from
    with_final: Share  # their answer vs the adjudicated one, where there is one


@dataclass(frozen=True)
class LabelerStatistics:
    rows: list[LabelerRow]
    chart: LineChart | None  # None before anyone submitted


def _agreement(session: LabelingSession) -> tuple[dict, dict, dict]:
    """Per labeler id: pairwise matches with others, items compared, matches with finals; from
    the counts kept as answers arrive (`labeling.tallies`), one query."""
    counts = read_counts(session, question=Q(question=0), kinds=["om", "ot", "fm", "ft", "oi"])
    others: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    finals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    items: dict[int, int] = {}
    for (_, kind, labeler, _, _), (n, _) in counts.items():
        if kind == "oi":
            items[labeler] = round(n)
        else:
            target = others if kind[0] == "o" else finals
            target[labeler][0 if kind[1] == "m" else 1] = round(n)
    return others, finals, items


def _progress_chart(session: LabelingSession, names: dict[int, str]) -> LineChart | None:
    """Cumulative submissions per labeler, per hour within three days, else per day; from the
    submissions per labeler and hour kept as they arrive (`labeling.tallies`), one query."""
    zone = timezone.get_current_timezone()
    rows = [
        (labeler, datetime.fromtimestamp(int(key) * 3600, tz=UTC).astimezone(zone), round(n))
        for (_, _, labeler, _, key), (n, _) in read_counts(
            session, question=Q(question=0), kinds=["hr"]
        ).items()
        if n
    ]
    if not rows:
        return None
    hours = sorted({hour for _, hour, _ in rows})
    bucket = bucket_for(hours[0], hours[-1])
    counts: dict[str, dict[datetime | date, int]] = {}
    for labeler_id in sorted({pk for pk, _, _ in rows}, key=lambda pk: names.get(pk, "")):
        counts[names.get(labeler_id, f"#{labeler_id}")] = {}
    for labeler_id, hour, n in rows:
        moment: datetime | date = hour if bucket == "hour" else hour.date()
        by_bucket = counts[names.get(labeler_id, f"#{labeler_id}")]
        by_bucket[moment] = by_bucket.get(moment, 0) + n
    if bucket == "hour":
        buckets: list[datetime | date] = []
        moment = hours[0]
        while moment <= hours[-1]:
            buckets.append(moment)
            moment += timedelta(hours=1)
    else:
        first, last = hours[0].date(), hours[-1].date()
        buckets = [first + timedelta(days=d) for d in range((last - first).days + 1)]
    return cumulative_chart(counts, bucket=bucket, buckets=buckets, title="Progress over time")


def labeler_statistics(session: LabelingSession) -> LabelerStatistics:
    progress = labeler_figures(session)
    names = {row.user.pk: row.user.username for row in progress}
    others, finals, compared = _agreement(session)
    chart = _progress_chart(session, names)
    colours = {series.label: series.colour for series in chart.series} if chart is not None else {}
    rows = [
        LabelerRow(
            progress=row,
            colour=colours.get(row.user.username),
            with_others=Share(*others.get(row.user.pk, (0, 0))),
            with_others_items=compared.get(row.user.pk, 0),
            with_final=Share(*finals.get(row.user.pk, (0, 0))),
        )
        for row in progress
    ]
    return LabelerStatistics(rows=rows, chart=chart)
