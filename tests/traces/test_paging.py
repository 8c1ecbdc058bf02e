"""traces.paging: pages with a capped count and keys-first reads."""

import pytest

from tests.factories import make_experiment, make_trace
from traces.models import Trace
from traces.paging import Page, paginate

pytestmark = pytest.mark.django_db


def test_exact_count_and_last_page(django_assert_num_queries):
    experiment = make_experiment()
    for _ in range(7):
        make_trace(experiment)
    traces = Trace.objects.filter(experiment=experiment).order_by("-request_time", "-id")
    with django_assert_num_queries(3):
        page = paginate(traces, "3", per_page=3)
    assert (page.number, page.count, page.count_label, page.has_next) == (3, 7, "7", False)
    assert [t.pk for t in page.object_list] == [t.pk for t in traces[6:]]
    assert (page.start_index, page.end_index, page.num_pages) == (7, 7, 3)
    beyond = paginate(traces, "99", per_page=3)
    assert beyond.number == 3
    assert paginate(traces, "junk", per_page=3).number == 1


def test_capped_count_still_pages_on():
    experiment = make_experiment()
    for _ in range(7):
        make_trace(experiment)
    traces = Trace.objects.filter(experiment=experiment).order_by("-request_time", "-id")
    page = paginate(traces, "2", per_page=2, count_cap=4)
    assert (page.count_label, page.count_is_exact, page.num_pages) == ("4+", False, None)
    assert page.has_next and len(page.object_list) == 2
    last = paginate(traces, "4", per_page=2, count_cap=4)
    assert not last.has_next and len(last.object_list) == 1


def make_page(number, count, *, exact=True, has_next=False, per_page=10):
    return Page([], number, per_page, count, exact, has_next)


def test_page_range():
    assert make_page(1, 30).page_range == [1, 2, 3]
    assert make_page(10, 200).page_range == [1, 2, None, 8, 9, 10, 11, 12, None, 19, 20]
    assert make_page(1, 10_000, exact=False, has_next=True, per_page=50).page_range == [
        1,
        2,
        3,
        None,
    ]
    assert make_page(300, 10_000, exact=False, has_next=True, per_page=50).page_range == [
        1,
        2,
        None,
        298,
        299,
        300,
        301,
        None,
    ]
