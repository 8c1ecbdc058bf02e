"""traces 0003 ties the labels made in the UI so far to their accounts (`Assessment.created_by`,
from the source id that was the maker's username), except the reserved source id "default",
which API clients get when they name no source (issue 14, finding 6)."""

import pytest
from django.contrib.auth.models import User

from tests.test_migrations import migrate
from traces.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("traces", "0002_explorer_indexes")]
AFTER = [("traces", "0003_assessment_created_by_limits")]


@pytest.fixture
def back_to_latest(transactional_db):
    from tests.test_migrations import latest

    yield
    migrate(latest())


def test_human_labels_are_tied_to_the_account_their_source_names(back_to_latest):
    alice = User.objects.create_user("alice")
    User.objects.create_user("default")
    apps = migrate(BEFORE)
    experiment = apps.get_model("traces", "Experiment").objects.create(name="e")
    trace = apps.get_model("traces", "Trace").objects.create(trace_id="tr-1", experiment=experiment)
    model = apps.get_model("traces", "Assessment")

    def label(source_type: str, source_id: str) -> int:
        return model.objects.create(
            trace=trace,
            experiment=experiment,
            kind="feedback",
            name=f"{source_type}-{source_id}",
            source_type=source_type,
            source_id=source_id,
            value=True,
        ).pk

    pks = {
        "mine": label("HUMAN", "alice"),
        "api default": label("HUMAN", "default"),
        "judge named alice": label("LLM_JUDGE", "alice"),
        "nobody's": label("HUMAN", "someone-without-an-account"),
    }
    migrate(AFTER)
    owners = dict(Assessment.objects.values_list("pk", "created_by_id"))
    assert owners == {
        pks["mine"]: alice.pk,
        pks["api default"]: None,
        pks["judge named alice"]: None,
        pks["nobody's"]: None,
    }
