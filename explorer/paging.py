"""Pagination for long lists (100,000 traces and more) with a fixed number of queries.

Measured on 100,000 traces: counting the matches of a filter was the most expensive query of
the trace list (every match may need its previews or labels checked). So a page never counts:
it reads one row more than it shows to know whether a next page exists, and the total comes
from `count_up_to` in a request of its own (the list loads it after the rows), stopping at a cap.
Deep pages read only primary keys past the OFFSET (an index-only scan when an index covers the
filter and the order), then the page's rows by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass
class Page:
    object_list: list[Any]
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def start_index(self) -> int:
        return 0 if not self.object_list else (self.number - 1) * self.per_page + 1

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.object_list) - 1 if self.object_list else 0

    @property
    def page_range(self) -> list[int | None]:
        """The first pages and those around this one (None where pages are left out); the
        last page is not known without a count, so the list ends with the next page."""
        last = self.number + 1 if self.has_next else self.number
        shown: list[int | None] = []
        for n in sorted({1, 2, *range(self.number - 2, last + 1)}):
            if not 1 <= n <= last:
                continue
            if shown and n - shown[-1] > 1:
                shown.append(None)
            shown.append(n)
        return shown


# Deeper pages are clamped to this one (an empty page past the end): any number a URL carries
# stays a valid OFFSET, far below the 64-bit limit of the databases.
MAX_PAGE = 1_000_000


def page_number(raw: str | None) -> int:
    """The page asked for: 1 for anything that is not a number, at most `MAX_PAGE`."""
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE if text.isdigit() else 1
    return min(max(1, int(text)), MAX_PAGE)


def paginate(
    queryset: QuerySet,
    raw_page: str | None,
    *,
    per_page: int,
    fetch: Callable[[list[Any]], Iterable[Any]] | None = None,
) -> Page:
    """Two queries whatever the page: the page's primary keys (one more than a page, to know
    whether a next page exists), then their rows, read by `fetch(pks)` (default: the model's
    rows with those keys)."""
    number = page_number(raw_page)
    offset = (number - 1) * per_page
    pks = list(queryset.values_list("pk", flat=True)[offset : offset + per_page + 1])
    has_next = len(pks) > per_page
    pks = pks[:per_page]
    found = fetch(pks) if fetch else queryset.model._default_manager.filter(pk__in=pks)
    by_pk = {row.pk: row for row in found}
    rows = [by_pk[pk] for pk in pks if pk in by_pk]
    return Page(object_list=rows, number=number, per_page=per_page, has_next=has_next)


def count_up_to(queryset: QuerySet, cap: int) -> tuple[int, bool]:
    """How many rows match, counting no further than `cap`: (count, whether it is exact)."""
    count = queryset.order_by()[: cap + 1].count()
    return min(count, cap), count <= cap
