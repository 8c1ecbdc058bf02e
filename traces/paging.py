"""Pagination for long lists (100,000 traces and more) with a fixed number of queries.

Counting every match of a filter is what makes big lists slow (measured: COUNT(*) was the
largest query of the trace list at 100,000 traces), so the count stops at `COUNT_CAP`: past it
the page says "10,000+" and offers the next page while there is one. Deep pages read only
primary keys past the OFFSET (an index-only scan when an index covers filter and order), then
the page's rows by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

COUNT_CAP = 10_000


@dataclass
class Page:
    object_list: list[Any]
    number: int
    per_page: int
    count: int
    count_is_exact: bool
    has_next: bool

    @property
    def count_label(self) -> str:
        return f"{self.count:,}" if self.count_is_exact else f"{self.count:,}+"

    @property
    def num_pages(self) -> int | None:
        """None when the count was capped (the last page is not known)."""
        if not self.count_is_exact:
            return None
        return max(1, -(-self.count // self.per_page))

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
        """Page numbers around the current one and at the ends, None where there is a gap."""
        if self.count_is_exact:
            last = max(1, -(-self.count // self.per_page))
        else:
            # More than `count` rows: at least this many pages exist, maybe more.
            last = max(self.count // self.per_page, self.number + int(self.has_next))
        wanted = {1, 2, *range(self.number - 2, self.number + 3)}
        if self.count_is_exact:
            wanted |= {last - 1, last}
        shown: list[int | None] = []
        for n in sorted(n for n in wanted if 1 <= n <= last):
            if shown and n - shown[-1] > 1:
                shown.append(None)
            shown.append(n)
        if not self.count_is_exact:
            shown.append(None)  # and maybe more pages after these
        return shown


def page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except (TypeError, ValueError):
        return 1


def paginate(
    queryset: QuerySet,
    raw_page: str | None,
    *,
    per_page: int,
    fetch: Callable[[list[Any]], Iterable[Any]] | None = None,
    count_cap: int = COUNT_CAP,
) -> Page:
    """Three queries whatever the page: a count (up to `count_cap`), the page's primary keys
    (one more than a page, to know whether a next page exists), and their rows, read by
    `fetch(pks)` (default: the model's rows with those keys). A page past the end of a list
    whose size is known shows its last page."""
    count = queryset.order_by()[: count_cap + 1].count()
    exact = count <= count_cap
    number = page_number(raw_page)
    if exact:
        number = min(number, max(1, -(-count // per_page)))
    offset = (number - 1) * per_page
    pks = list(queryset.values_list("pk", flat=True)[offset : offset + per_page + 1])
    has_next = len(pks) > per_page
    pks = pks[:per_page]
    found = fetch(pks) if fetch else queryset.model._default_manager.filter(pk__in=pks)
    by_pk = {row.pk: row for row in found}
    rows = [by_pk[pk] for pk in pks if pk in by_pk]
    return Page(
        object_list=rows,
        number=number,
        per_page=per_page,
        count=min(count, count_cap),
        count_is_exact=exact,
        has_next=has_next,
    )
