"""explorer.paging: pages without a count, keys first; counts that stop at a cap."""

import pytest

from explorer.paging import Page, count_up_to, paginate
from tests.factories import make_experiment, make_trace
from traces.models import Trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def traces():
    experiment = make_experiment()
    for _ in range(7):
        make_trace(experiment)
    return Trace.objects.filter(experiment=experiment).order_by("-request_time", "-id")


def test_pages_read_keys_then_rows(traces, django_assert_num_queries):
    with django_assert_num_queries(2):
        page = paginate(traces, "3", per_page=3)
    assert (page.number, page.has_next, page.has_previous) == (3, False, True)
    assert [t.pk for t in page.object_list] == [t.pk for t in traces[6:]]
    assert (page.start_index, page.end_index) == (7, 7)
    middle = paginate(traces, "2", per_page=3)
    assert middle.has_next and len(middle.object_list) == 3
    assert paginate(traces, "junk", per_page=3).number == 1
    beyond = paginate(traces, "99", per_page=3)
    assert beyond.object_list == [] and not beyond.has_next


def test_count_up_to(traces):
    assert count_up_to(traces, 100) == (7, True)
    assert count_up_to(traces, 7) == (7, True)
    assert count_up_to(traces, 4) == (4, False)


def make_page(number, *, has_next):
    return Page([], number, 10, has_next)


def test_page_range():
    assert make_page(1, has_next=False).page_range == [1]
    assert make_page(1, has_next=True).page_range == [1, 2]
    assert make_page(3, has_next=True).page_range == [1, 2, 3, 4]
    assert make_page(10, has_next=True).page_range == [1, 2, None, 8, 9, 10, 11]
    assert make_page(10, has_next=False).page_range == [1, 2, None, 8, 9, 10]
