"""Console: labeling schemas (list, create with live preview, edit with versions, archive)."""

import itertools

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.urls import reverse

from labeling import services
from labeling.console.forms import schema_initial
from labeling.inputs import parse_input
from labeling.models import LabelingSchema, LabelingSchemaVersion
from tests.factories import (
    make_answer,
    make_assignment,
    make_experiment,
    make_schema,
    make_session,
    make_trace,
)

_labelers = itertools.count(1)


@pytest.fixture
def experiment(db):
    return make_experiment("support-bot")


def post_data(**overrides):
    data = {
        "name": "correct",
        "kind": "feedback",
        "title": "Is the answer correct?",
        "instruction": "",
        "target_span_type": "",
        "input_type": "pass_fail",
        "positive_label": "Pass",
        "negative_label": "Fail",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def create_url(experiment):
    return reverse("console:schema_create", args=[experiment.pk])


def answered(schema, value=True):
    """An answer to `schema`'s current version, by a new labeler in a new session."""
    labeler = User.objects.create(username=f"labeler-{next(_labelers)}")
    trace = make_trace(schema.experiment)
    session = make_session(schema.experiment, schemas=[schema], traces=[trace])
    return make_answer(make_assignment(session.items.get(), labeler), schema, value)


# --- creating ------------------------------------------------------------------------------------

KINDS = [
    ("pass_fail", {"positive_label": "Yes", "negative_label": "No"},
     {"positive_label": "Yes", "negative_label": "No"}),
    ("categorical", {"options": "Friendly\nNeutral\n\nCurt\n"},
     {"options": ["Friendly", "Neutral", "Curt"], "multi": False}),
    ("categorical", {"options": "a\nb", "multi": "on"}, {"options": ["a", "b"], "multi": True}),
    ("categorical_list", {"options": "Hallucination\nOff-topic"},
     {"options": ["Hallucination", "Off-topic"], "multi": True}),
    ("numeric", {"min_value": "1", "max_value": "5", "step": "0.5"},
     {"min_value": 1, "max_value": 5, "step": 0.5}),
    ("numeric", {}, {"min_value": None, "max_value": None, "step": None}),
    ("text", {"max_length": "500"}, {"max_length": 500}),
    ("text_list", {"max_count": "5", "max_length_each": "200"},
     {"max_count": 5, "max_length_each": 200}),
]  # fmt: skip


@pytest.mark.parametrize(("input_type", "posted", "config"), KINDS)
def test_create_each_input_kind(curator_client, experiment, curator, input_type, posted, config):
    data = post_data(input_type=input_type, name=f"q_{input_type}", **posted)
    response = curator_client.post(create_url(experiment), data)
    schema = LabelingSchema.objects.get(experiment=experiment, name=f"q_{input_type}")
    assert response.status_code == 302
    assert response["Location"] == reverse("console:schema_detail", args=[experiment.pk, schema.pk])
    assert schema.input_type == input_type
    assert schema.input_config == config
    assert schema.version == 1
    assert schema.created_by == curator
    snapshot = schema.versions.get(version=1).snapshot
    assert snapshot["input_config"] == config
    assert snapshot["name"] == f"q_{input_type}"


def test_settings_of_other_kinds_are_ignored(curator_client, experiment):
    data = post_data(input_type="text", max_length="10", options="a\na", min_value="9")
    curator_client.post(create_url(experiment), data)
    assert LabelingSchema.objects.get().input_config == {"max_length": 10}


def test_create_all_fields(curator_client, experiment):
    data = post_data(
        kind="expectation",
        name="  facts  ",
        instruction="Use **bold**",
        enable_comment="on",
        target_span_type="RETRIEVER",
        input_type="text_list",
    )
    curator_client.post(create_url(experiment), data)
    schema = LabelingSchema.objects.get()
    assert (schema.name, schema.kind, schema.enable_comment, schema.target_span_type) == (
        "facts",
        "expectation",
        True,
        "RETRIEVER",
    )


# Each validation rule: the form comes back (200) with the message next to its field, and
# nothing is saved.
RULES = [
    ({"name": ""}, "name", "This field is required."),
    ({"name": "x" * 251}, "name", "The name is 251 characters long; the limit is 250."),
    ({"name": "   "}, "name", "This field is required."),
    ({"title": ""}, "title", "This field is required."),
    ({"kind": "opinion"}, "kind", "Select a valid choice."),
    ({"input_type": "slider"}, "input_type", "Select a valid choice."),
    ({"input_type": "categorical", "options": ""}, "options", "Give at least one option."),
    ({"input_type": "categorical", "options": " \n \n"}, "options", "Give at least one option."),
    ({"input_type": "categorical_list", "options": "Yes\nyes"}, "options",
     "Options must be unique; repeated: yes."),
    ({"input_type": "categorical", "options": "x" * 251}, "options",
     "Each option may be at most 250 characters."),
    ({"input_type": "numeric", "min_value": "5", "max_value": "1"}, "max_value",
     "The minimum must be below the maximum."),
    ({"input_type": "numeric", "min_value": "3", "max_value": "3"}, "max_value",
     "The minimum must be below the maximum."),
    ({"input_type": "numeric", "min_value": "low"}, "min_value", "The minimum must be a number."),
    ({"input_type": "numeric", "max_value": "inf"}, "max_value",
     "The maximum must be a finite number."),
    ({"input_type": "numeric", "step": "0"}, "step", "The step must be positive."),
    ({"input_type": "numeric", "step": "-1"}, "step", "The step must be positive."),
    ({"input_type": "text", "max_length": "0"}, "max_length",
     "The maximum length must be positive."),
    ({"input_type": "text", "max_length": "ten"}, "max_length",
     "The maximum length must be a whole number."),
    ({"input_type": "text", "max_length": "2.5"}, "max_length",
     "The maximum length must be a whole number."),
    ({"input_type": "text_list", "max_count": "0"}, "max_count",
     "The maximum number of entries must be positive."),
    ({"input_type": "text_list", "max_length_each": "-3"}, "max_length_each",
     "The maximum length of each entry must be positive."),
    ({"positive_label": "", "negative_label": "Fail"}, "positive_label",
     "Both labels are required."),
    ({"positive_label": "Good", "negative_label": "good"}, "negative_label",
     "The two labels must differ."),
    ({"instruction": "x" * 20_001}, "instruction",
     "Ensure this value has at most 20000 characters (it has 20001)."),
    ({"target_span_type": "X" * 65}, "target_span_type",
     "Ensure this value has at most 64 characters (it has 65)."),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "field", "message"), RULES)
def test_each_validation_rule(curator_client, experiment, overrides, field, message):
    response = curator_client.post(create_url(experiment), post_data(**overrides))
    assert response.status_code == 200
    form = response.context["form"]
    assert any(error.startswith(message) for error in form.errors[field]), form.errors
    # Shown in place, next to its field.
    assert f'id="id_{field}_error"'.encode() in response.content
    assert not LabelingSchema.objects.exists()


def test_name_must_be_unique_in_the_experiment(curator_client, experiment):
    make_schema(experiment, "correct")
    archived = make_schema(experiment, "tone")
    services.set_schema_archived(schema=archived, archived=True)
    response = curator_client.post(create_url(experiment), post_data(name="correct"))
    errors = response.context["form"].errors["name"]
    assert errors == ["This experiment already has a schema named “correct”."]
    response = curator_client.post(create_url(experiment), post_data(name="tone"))
    assert "(archived)" in response.context["form"].errors["name"][0]
    # Another experiment may use the same name.
    other = make_experiment()
    response = curator_client.post(create_url(other), post_data(name="correct"))
    assert response.status_code == 302


def test_invalid_form_keeps_what_was_typed(curator_client, experiment):
    data = post_data(title="Tone?", input_type="categorical", options="Warm\nwarm")
    response = curator_client.post(create_url(experiment), data)
    assert b"Tone?" in response.content
    assert b"Warm\nwarm" in response.content


# --- live preview --------------------------------------------------------------------------------


def test_preview_partial_shows_the_question_as_labelers_see_it(curator_client, experiment):
    data = post_data(
        _preview="1", title="How is the tone?", input_type="categorical", options="Warm\nCold"
    )
    response = curator_client.post(create_url(experiment), data, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="schema-preview"' in html
    assert "How is the tone?" in html
    assert 'type="radio"' in html and "Warm" in html and "Cold" in html
    assert not LabelingSchema.objects.exists()


def test_preview_of_invalid_settings_explains(curator_client, experiment):
    data = post_data(_preview="1", input_type="numeric", min_value="9", max_value="1")
    response = curator_client.post(create_url(experiment), data, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "The preview appears once the answer settings are valid." in html
    assert "The minimum must be below the maximum." in html


def test_preview_sanitises_markdown(curator_client, experiment):
    data = post_data(_preview="1", instruction="**Careful** <script>alert(1)</script>")
    response = curator_client.post(create_url(experiment), data, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<strong>Careful</strong>" in html
    assert "<script>alert" not in html


def test_preview_without_javascript_renders_the_page(curator_client, experiment):
    data = post_data(_preview="1", title="Score?", input_type="numeric", min_value="1")
    response = curator_client.post(create_url(experiment), data)
    assert response.status_code == 200
    assert b"<html" in response.content
    assert b"At least 1" in response.content
    assert not LabelingSchema.objects.exists()


def test_preview_of_span_question_names_the_span_type(curator_client, experiment):
    data = post_data(_preview="1", target_span_type="RETRIEVER")
    response = curator_client.post(create_url(experiment), data, headers={"HX-Request": "true"})
    assert b"RETRIEVER" in response.content


# --- editing and versions ------------------------------------------------------------------------


def edit(client, schema, **overrides):
    data = {k: v for k, v in schema_initial(schema).items() if v is not False}
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(reverse("console:schema_edit", args=[schema.experiment_id, schema.pk]), data)


def test_edit_without_answers_keeps_the_version(curator_client, experiment):
    schema = make_schema(experiment, "tone", "categorical", {"options": ["a", "b"]})
    response = edit(curator_client, schema, title="New wording", options="a\nb\nc")
    assert response.status_code == 302
    schema.refresh_from_db()
    assert schema.title == "New wording"
    assert schema.input_config["options"] == ["a", "b", "c"]
    assert schema.version == 1
    assert schema.versions.get().snapshot["title"] == "New wording"


def test_edit_after_answers_makes_a_new_version(curator_client, experiment):
    schema = make_schema(experiment, "tone", "categorical", {"options": ["warm", "cold"]})
    old_answer = answered(schema, "cold")
    response = edit(curator_client, schema, name="tone_v2", options="warm\ncool")
    assert response.status_code == 302
    schema.refresh_from_db()
    assert schema.version == 2
    assert schema.name == "tone_v2"
    versions = {v.version: v.snapshot for v in schema.versions.all()}
    assert versions[1]["input_config"]["options"] == ["warm", "cold"]
    assert versions[1]["name"] == "tone"
    assert versions[2]["input_config"]["options"] == ["warm", "cool"]
    # The old answer is untouched, and still says which version it answered.
    old_answer.refresh_from_db()
    assert old_answer.schema_version == 1
    assert old_answer.assessment.value == "cold"
    assert old_answer.assessment.name == "tone"
    assert old_answer.assessment.valid
    # A second edit before anyone answers v2 stays v2.
    edit(curator_client, schema, title="Tone of the answer?", options="warm\ncool")
    schema.refresh_from_db()
    assert schema.version == 2
    assert schema.versions.get(version=2).snapshot["title"] == "Tone of the answer?"


def test_detail_shows_which_version_each_answer_used(curator_client, experiment):
    schema = make_schema(experiment, "tone", "categorical", {"options": ["warm", "cold"]})
    answered(schema, "cold")
    edit(curator_client, schema, options="warm\ncool")
    schema.refresh_from_db()
    answered(schema, "cool")
    response = curator_client.get(reverse("console:schema_detail", args=[experiment.pk, schema.pk]))
    html = response.content.decode()
    answers = list(response.context["answers"])
    assert [a.schema_version for a in answers] == [2, 1]
    assert "Answered an earlier version of this schema" in html
    assert [v.answer_count for v in response.context["versions"]] == [1, 1]


def test_kind_and_type_are_locked_once_answered(curator_client, experiment):
    schema = make_schema(experiment, "correct")
    answered(schema)
    page = curator_client.get(reverse("console:schema_edit", args=[experiment.pk, schema.pk]))
    assert page.context["locked"]
    assert page.context["form"].fields["input_type"].disabled
    assert b"Its answer kind and type are locked" in page.content
    # Posting another kind anyway changes nothing of the kind or type.
    response = edit(curator_client, schema, input_type="text", kind="expectation", title="Correct?")
    assert response.status_code == 302
    schema.refresh_from_db()
    assert (schema.input_type, schema.kind, schema.title) == ("pass_fail", "feedback", "Correct?")


def test_service_refuses_kind_and_type_change_once_answered(experiment):
    schema = make_schema(experiment, "correct")
    answered(schema)
    fields = services.SchemaFields(
        name="correct",
        kind="feedback",
        title="?",
        instruction="",
        enable_comment=False,
        target_span_type="",
        spec=parse_input("text", {}),
    )
    with pytest.raises(ValidationError) as info:
        services.update_schema(schema=schema, fields=fields)
    assert info.value.code == "kind_locked"
    other_type = services.SchemaFields(
        **{**fields.__dict__, "spec": schema.spec, "kind": "expectation"}
    )
    with pytest.raises(ValidationError) as info:
        services.update_schema(schema=schema, fields=other_type)
    assert info.value.code == "type_locked"
    schema.refresh_from_db()
    assert (schema.input_type, schema.kind, schema.version) == ("pass_fail", "feedback", 1)


def test_kind_may_change_before_answers(curator_client, experiment):
    schema = make_schema(experiment, "correct")
    edit(curator_client, schema, input_type="numeric", min_value="1", max_value="5")
    schema.refresh_from_db()
    assert schema.input_type == "numeric"
    assert schema.input_config == {"min_value": 1, "max_value": 5, "step": None}


def test_rename_to_a_taken_name_is_refused(curator_client, experiment):
    make_schema(experiment, "tone")
    schema = make_schema(experiment, "correct")
    response = edit(curator_client, schema, name="tone")
    assert response.status_code == 200
    assert "already has a schema named" in response.context["form"].errors["name"][0]


def test_unchanged_save_says_so(curator_client, experiment):
    schema = make_schema(experiment, "correct")
    response = edit(curator_client, schema)
    assert response.status_code == 302
    follow = curator_client.get(response["Location"])
    assert "Nothing changed." in follow.content.decode()


# --- archive and delete --------------------------------------------------------------------------


def test_archive_and_restore(curator_client, experiment):
    schema = make_schema(experiment, "correct")
    url = reverse("console:schema_archive", args=[experiment.pk, schema.pk])
    assert curator_client.post(url, {"archived": "1"}).status_code == 302
    schema.refresh_from_db()
    assert schema.archived
    list_url = reverse("console:schema_list", args=[experiment.pk])
    assert list(curator_client.get(list_url).context["schemas"]) == []
    assert list(curator_client.get(list_url + "?archived=1").context["schemas"]) == [schema]
    curator_client.post(url, {"archived": "0"})
    schema.refresh_from_db()
    assert not schema.archived


def test_delete_refused_once_answered(curator_client, experiment):
    schema = make_schema(experiment, "correct")
    answered(schema)
    url = reverse("console:schema_delete", args=[experiment.pk, schema.pk])
    response = curator_client.post(url, follow=True)
    assert "cannot be deleted. Archive it instead" in response.content.decode()
    assert LabelingSchema.objects.filter(pk=schema.pk).exists()


def test_delete_refused_while_a_session_asks_it(curator_client, experiment):
    schema = make_schema(experiment, "correct")
    make_session(experiment, schemas=[schema], name="Week 1")
    url = reverse("console:schema_delete", args=[experiment.pk, schema.pk])
    response = curator_client.post(url, follow=True)
    assert "This schema is asked in “Week 1”" in response.content.decode()
    assert LabelingSchema.objects.filter(pk=schema.pk).exists()


def test_delete_unused_schema(curator_client, experiment):
    schema = make_schema(experiment, "typo")
    url = reverse("console:schema_delete", args=[experiment.pk, schema.pk])
    response = curator_client.post(url)
    assert response["Location"] == reverse("console:schema_list", args=[experiment.pk])
    assert not LabelingSchema.objects.exists()
    assert not LabelingSchemaVersion.objects.exists()


# --- lists and query counts ----------------------------------------------------------------------


def test_schema_list_query_count(curator_client, experiment, django_assert_num_queries):
    for index in range(5):
        schema = make_schema(experiment, f"q{index}", "categorical", {"options": ["a", "b"]})
        answered(schema, "a")
    url = reverse("console:schema_list", args=[experiment.pk])
    # user, experiment, schemas with their counts, the other list's count
    with django_assert_num_queries(4):
        response = curator_client.get(url)
    assert [s.n_answers for s in response.context["schemas"]] == [1] * 5
    assert [s.n_sessions for s in response.context["schemas"]] == [1] * 5


def test_schema_detail_query_count(curator_client, experiment, django_assert_num_queries):
    schema = make_schema(experiment, "tone", "categorical", {"options": ["a", "b"]})
    for _ in range(4):
        answered(schema, "a")
    url = reverse("console:schema_detail", args=[experiment.pk, schema.pk])
    with django_assert_num_queries(9):
        curator_client.get(url)
    for _ in range(4):
        answered(schema, "b")
    with django_assert_num_queries(9):
        response = curator_client.get(url)
    assert len(response.context["answers"]) == 8


def test_schemas_index_lists_experiments(curator_client, experiment, django_assert_num_queries):
    make_schema(experiment, "a")
    make_experiment("other")
    with django_assert_num_queries(2):
        response = curator_client.get(reverse("console:schemas"))
    rows = {e.name: e.n_schemas for e in response.context["experiments"]}
    assert rows == {"support-bot": 1, "other": 0}


def test_a_schema_is_required_unless_marked_optional(curator_client, experiment):
    """Issue 15: required questions must be answered before Submit & next."""
    curator_client.post(create_url(experiment), post_data(name="asked"))
    curator_client.post(create_url(experiment), post_data(name="extra", optional="on"))
    assert LabelingSchema.objects.get(name="asked").required is True
    assert LabelingSchema.objects.get(name="extra").required is False


@pytest.mark.parametrize(("typed", "stored"), [("retriever", "RETRIEVER"), ("Tool", "TOOL")])
def test_a_known_span_type_in_any_case_is_accepted(curator_client, experiment, typed, stored):
    curator_client.post(create_url(experiment), post_data(target_span_type=typed))
    assert LabelingSchema.objects.get(name="correct").target_span_type == stored


def test_an_unknown_span_type_is_refused(curator_client, experiment):
    response = curator_client.post(create_url(experiment), post_data(target_span_type="retreiver"))
    assert response.status_code == 200
    assert "would never be asked" in response.text
    assert not LabelingSchema.objects.exists()
