"""labeling.campaign.charts: the geometry of the progress chart."""

from datetime import UTC, date, datetime, timedelta

import pytest

from labeling.campaign.charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    TOP,
    bucket_for,
    cumulative_chart,
    nice_ceiling,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, (1, 1)), (3, (3, 1)), (7, (8, 2)), (24, (25, 5)), (99, (100, 20)), (1234, (1500, 500))],
)
def test_nice_ceiling(value, expected):
    assert nice_ceiling(value) == expected


def test_bucket_is_hours_within_three_days_else_days():
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert bucket_for(start, start + timedelta(days=3)) == "hour"
    assert bucket_for(start, start + timedelta(days=3, hours=1)) == "day"


def test_cumulative_lines_start_at_zero_and_end_at_the_total():
    days = [date(2026, 11, 2) + timedelta(days=d) for d in range(3)]
    chart = cumulative_chart(
        {"alice": {days[0]: 2, days[2]: 3}, "bob": {days[1]: 1}},
        bucket="day",
        buckets=days,
        title="Progress",
    )
    alice, bob = chart.series
    assert (alice.total, bob.total) == (5, 1)
    assert (alice.colour, bob.colour) == (0, 1)
    points = [tuple(map(float, p.split(","))) for p in alice.points.split()]
    assert len(points) == 4  # zero before the first day, then one per day
    assert points[0] == (LEFT, HEIGHT - BOTTOM)  # origin
    # The axis tops out at 5 (nice ceiling of the largest total): alice's end is at the top.
    assert points[-1][1] == TOP
    assert [tick.label for tick in chart.y_ticks] == ["0", "1", "2", "3", "4", "5"]
    assert [tick.label for tick in chart.x_ticks] == ["Nov 2", "Nov 3", "Nov 4"]
    assert "alice: 5; bob: 1" in chart.description
    assert chart.x_label == "Day"


def test_a_single_hour_still_draws_a_line_and_long_spans_thin_the_labels():
    hour = datetime(2026, 11, 2, 9, tzinfo=UTC)
    chart = cumulative_chart({"alice": {hour: 1}}, bucket="hour", buckets=[hour], title="P")
    assert len(chart.series[0].points.split()) == 2
    assert chart.x_ticks[0].label == "Nov 2 09:00"
    days = [date(2026, 1, 1) + timedelta(days=d) for d in range(60)]
    chart = cumulative_chart({"a": {days[0]: 1}}, bucket="day", buckets=days, title="P")
    assert len(chart.x_ticks) <= 8
