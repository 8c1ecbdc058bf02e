"""bench/review_cpu.py counts a part's CPU once however deep its calls nest."""

from collections import Counter

from bench.review_cpu import _timed


def test_nested_calls_of_a_part_count_once():
    spent: Counter[str] = Counter()
    calls = []

    def render(depth: int) -> int:
        calls.append(depth)
        total = sum(range(20_000))
        return total + (timed(depth - 1) if depth else 0)

    timed = _timed(spent, "templates", render)
    timed(3)
    assert calls == [3, 2, 1, 0]
    once = spent["templates"]
    spent.clear()
    timed(0)
    # Four nested calls cost about four single ones, not 4 + 3 + 2 + 1 of them.
    assert 0 < once < spent["templates"] * 8
