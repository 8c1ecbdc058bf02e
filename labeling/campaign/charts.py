"""Geometry of the small server-rendered SVG charts (no JavaScript library, no CDN).

The template draws what this module computes: coordinates in a fixed viewBox, tick positions and
labels. Keeping the arithmetic here makes it testable and keeps the template plain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from django.utils.formats import date_format

Bucket = Literal["day", "hour"]

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 40, 14, 40  # margins for the axis labels
PALETTE_SIZE = 8  # series colours: .series-0 … .series-7 in console.css


@dataclass(frozen=True)
class Tick:
    position: float  # x or y in the viewBox
    label: str


@dataclass(frozen=True)
class Series:
    label: str
    colour: int  # index into the palette
    points: str  # "x,y x,y …" for <polyline points>
    total: int


@dataclass(frozen=True)
class LineChart:
    title: str
    description: str
    bucket: Bucket
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM

    @property
    def x_label(self) -> str:
        return "Day" if self.bucket == "day" else "Hour"


def bucket_for(first: datetime, last: datetime) -> Bucket:
    """Hours for work done within three days, days beyond."""
    return "hour" if last - first <= timedelta(days=3) else "day"


def nice_ceiling(value: int) -> tuple[int, int]:
    """(top, step): an axis top of 1, 2 or 5 x 10^k steps at or above `value`, <= 5 ticks."""
    if value <= 0:
        return 1, 1
    for magnitude in (10**k for k in range(0, 12)):
        for factor in (1, 2, 5):
            step = factor * magnitude
            if math.ceil(value / step) <= 5:
                return step * math.ceil(value / step), step
    return value, value


def cumulative_chart(
    counts: Mapping[str, Mapping[datetime | date, int]],
    *,
    bucket: Bucket,
    buckets: Sequence[datetime | date],
    title: str,
) -> LineChart:
    """One cumulative line per label over `buckets` (consecutive days or hours, in order).

    Each line starts at zero just before the first bucket, so a single day still draws a line.
    """
    slots = len(buckets) + 1  # slot 0: before the first bucket
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = {label: sum(by_bucket.values()) for label, by_bucket in counts.items()}
    top, step = nice_ceiling(max(totals.values(), default=0))

    def x(slot: int) -> float:
        return round(LEFT + plot_width * slot / max(slots - 1, 1), 1)

    def y(value: int) -> float:
        return round(TOP + plot_height * (1 - value / top), 1)

    series = []
    for colour, label in enumerate(counts):
        running, points = 0, [f"{x(0)},{y(0)}"]
        for slot, moment in enumerate(buckets, start=1):
            running += counts[label].get(moment, 0)
            points.append(f"{x(slot)},{y(running)}")
        series.append(
            Series(
                label=label, colour=colour % PALETTE_SIZE, points=" ".join(points), total=running
            )
        )
    every = max(1, math.ceil(len(buckets) / 8))  # at most ~8 labels on the time axis
    x_ticks = [
        Tick(x(slot), _label(moment, bucket))
        for slot, moment in enumerate(buckets, start=1)
        if (slot - 1) % every == 0
    ]
    y_ticks = [Tick(y(value), f"{value:,}") for value in range(0, top + 1, step)]
    span = f"{_label(buckets[0], bucket)} to {_label(buckets[-1], bucket)}" if buckets else ""
    description = (
        f"Cumulative submitted items per labeler, per {bucket}, {span}. "
        + "; ".join(f"{label}: {totals[label]:,}" for label in counts)
        + "."
    )
    return LineChart(
        title=title,
        description=description,
        bucket=bucket,
        series=series,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )


def _label(moment: datetime | date, bucket: Bucket) -> str:
    if bucket == "day":
        return date_format(moment, "M j")
    return date_format(moment, "M j H:i")
