"""explorer.forms, traces.values and traces.filters: what a person types becomes the value the
services store, or a clear error."""

import pytest

from explorer.forms import AddLabelForm, EditLabelForm
from traces.filters import TraceFilterForm, parse_filter_value
from traces.values import DataType, data_type_of, value_as_text


def add_form(**data):
    base = {
        "kind": "feedback",
        "name": "quality",
        "data_type": "string",
        "value": "",
        "rationale": "",
    }
    return AddLabelForm({**base, **data})


@pytest.mark.parametrize(
    ("data_type", "text", "expected"),
    [
        ("number", "4", 4),
        ("number", " -0.75 ", -0.75),
        ("number", "1e3", 1000.0),
        ("number", "3.0", 3.0),
        ("boolean", "true", True),
        ("boolean", "false", False),
        ("string", "  Looks right.  ", "Looks right."),
        ("json", '{"tone": "formal", "score": 2}', {"tone": "formal", "score": 2}),
        ("json", "[1, 2]", [1, 2]),
        ("json", '"quoted"', "quoted"),
    ],
)
def test_feedback_values_by_data_type(data_type, text, expected):
    form = add_form(data_type=data_type, value=text)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["parsed_value"] == expected
    assert type(form.cleaned_data["parsed_value"]) is type(expected)


def test_expectation_takes_any_json():
    value = '{\n  "answer": "Paris",\n  "sources": [{"doc": "a", "page": 2}]\n}'
    form = add_form(kind="expectation", data_type="json", value=value)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["parsed_value"] == {
        "answer": "Paris",
        "sources": [{"doc": "a", "page": 2}],
    }


def test_not_a_number():
    form = add_form(data_type="number", value="four")
    assert not form.is_valid()
    assert form.errors["value"] == ["“four” is not a number. Enter a number such as 4 or 0.75."]
    for text in ("nan", "inf"):
        assert not add_form(data_type="number", value=text).is_valid()


def test_invalid_json_says_where():
    form = add_form(data_type="json", value='{\n  "a": 1\n  "b": 2\n}')
    assert not form.is_valid()
    (message,) = form.errors["value"]
    assert message == "This is not valid JSON: Expecting ',' delimiter at line 3, column 3."


def test_nested_json_is_refused_for_feedback_only():
    form = add_form(data_type="json", value='{"a": {"b": 1}}')
    assert not form.is_valid()
    assert "may hold only numbers, booleans and strings" in form.errors["value"][0]
    assert "Expectation" in form.fields["value"].help_text


def test_null_is_not_a_value():
    form = add_form(kind="expectation", data_type="json", value="null")
    assert not form.is_valid()
    assert "null" in form.errors["value"][0]


@pytest.mark.parametrize(
    ("data_type", "message"),
    [
        ("number", "Enter a number."),
        ("boolean", "Choose True or False."),
        ("string", "Enter a value."),
        ("json", 'Enter a JSON value, for example {"key": "value"}.'),
    ],
)
def test_missing_value(data_type, message):
    form = add_form(data_type=data_type, value="   ")
    assert not form.is_valid()
    assert form.errors["value"] == [message]


def test_empty_name_keeps_the_rest():
    form = add_form(name="  ", data_type="number", value="4", rationale="because")
    assert not form.is_valid()
    assert list(form.errors) == ["name"]
    assert "Give the label a name" in form.errors["name"][0]
    assert form["value"].value() == "4" and form["rationale"].value() == "because"


def test_too_long_name():
    form = add_form(name="x" * 251, value="ok")
    assert not form.is_valid() and "name" in form.errors


def test_value_input_follows_the_data_type():
    assert add_form(data_type="boolean").fields["value"].widget.input_type == "radio"
    assert add_form(data_type="number").fields["value"].widget.attrs["inputmode"] == "decimal"
    assert "code-input" in add_form(data_type="json").fields["value"].widget.attrs["class"]
    unbound = AddLabelForm(initial={"kind": "expectation", "data_type": "json"})
    assert unbound.current_data_type == "json" and unbound.kind == "expectation"
    assert AddLabelForm().current_data_type == "string"


def test_edit_form_starts_from_the_current_value():
    class Label:
        kind = "expectation"
        value = {"a": [1, 2]}
        rationale = "r"

    form = EditLabelForm.for_assessment(Label())
    assert form.current_data_type == "json"
    assert form["value"].value() == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert form["rationale"].value() == "r"


def test_data_types_of_stored_values():
    assert [data_type_of(v) for v in (True, 3, 0.5, "x", [1], {"a": 1})] == [
        DataType.BOOLEAN,
        DataType.NUMBER,
        DataType.NUMBER,
        DataType.STRING,
        DataType.JSON,
        DataType.JSON,
    ]
    assert value_as_text(False, "boolean") == "false"
    assert value_as_text(0.5, "number") == "0.5"
    assert value_as_text("x", "json") == '"x"'


def test_filter_values():
    assert parse_filter_value("Pass") == ["Pass", True]
    assert parse_filter_value("no") == ["no", False]
    assert parse_filter_value("4") == ["4", 4]
    assert parse_filter_value("formal") == ["formal"]


def test_filter_form():
    form = TraceFilterForm(
        {"tag": "env=prod", "start": "2024-05-02", "end": "2024-05-01", "label": "nope"},
        label_names=["correctness"],
    )
    assert not form.is_valid()
    assert "end" in form.errors and "label" in form.errors
    assert (form.cleaned_data["tag_key"], form.cleaned_data["tag_value"]) == ("env", "prod")
    only_key = TraceFilterForm({"tag": "env"})
    assert only_key.is_valid() and only_key.cleaned_data["tag_value"] is None
    assert not TraceFilterForm({"tag": "=x"}).is_valid()


def test_active_filters_are_counted():
    def count(data, names=("tone",)):
        form = TraceFilterForm(data, label_names=names)
        form.is_valid()
        return form.active_count

    assert count({}) == 0
    assert count({"presence": "has", "sort": "-duration"}) == 0
    assert count({"presence": "lacks"}) == 1  # traces without any label
    assert count({"presence": "lacks", "label": "tone", "q": "x"}) == 2
