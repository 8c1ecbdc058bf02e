import pytest
from django.core.exceptions import ValidationError

from labeling.inputs import (
    Categorical,
    CategoricalList,
    Numeric,
    PassFail,
    Text,
    TextList,
    parse_input,
)


def error_code(callable_, *args, **kwargs) -> str:
    with pytest.raises(ValidationError) as info:
        callable_(*args, **kwargs)
    return info.value.code


def test_parse_input_builds_each_kind():
    assert isinstance(parse_input("pass_fail", {}), PassFail)
    assert isinstance(parse_input("categorical", {"options": ["a", "b"]}), Categorical)
    assert isinstance(parse_input("categorical_list", {"options": ["a"]}), CategoricalList)
    assert isinstance(parse_input("numeric", {"min_value": 1, "max_value": 5}), Numeric)
    assert isinstance(parse_input("text", {"max_length": 10}), Text)
    assert isinstance(parse_input("text_list", {"max_count": 3}), TextList)


def test_parse_input_refuses_unknown_kind_and_settings():
    assert error_code(parse_input, "slider", {}) == "input_type"
    assert error_code(parse_input, "text", {"colour": "red"}) == "input_config"


def test_options_must_be_non_empty_and_unique():
    assert error_code(Categorical, options=[]) == "options_empty"
    assert error_code(Categorical, options=["  ", ""]) == "options_empty"
    assert error_code(Categorical, options=["Yes", "yes"]) == "options_unique"
    assert Categorical(options=[" a ", "b"]).options == ["a", "b"]


def test_numeric_bounds_and_step_settings():
    assert error_code(Numeric, min_value=5, max_value=5) == "min_max"
    assert error_code(Numeric, min_value=6, max_value=5) == "min_max"
    assert error_code(Numeric, step=0) == "step"
    assert error_code(Numeric, min_value="abc") == "invalid"
    assert Numeric(min_value="1", max_value="5.5").max_value == 5.5


def test_lengths_must_be_positive_whole_numbers():
    assert error_code(Text, max_length=0) == "not_positive"
    assert error_code(Text, max_length=-3) == "not_positive"
    assert error_code(Text, max_length=2.5) == "invalid"
    assert error_code(TextList, max_length_each=0) == "not_positive"
    assert error_code(TextList, max_count="x") == "invalid"


def test_pass_fail_labels_must_differ():
    assert error_code(PassFail, positive_label="Yes", negative_label="yes") == "labels_unique"
    assert error_code(PassFail, positive_label="", negative_label="No") == "labels_required"


def test_pass_fail_clean():
    spec = PassFail(positive_label="Correct", negative_label="Wrong")
    assert spec.clean(["true"]) is True
    assert spec.clean(["false"]) is False
    assert spec.clean([]) is None
    assert error_code(spec.clean, ["maybe"]) == "invalid_choice"
    assert spec.initial(True) == ["true"]


def test_categorical_single_and_multi():
    single = Categorical(options=["red", "green"])
    assert single.clean(["green"]) == "green"
    assert error_code(single.clean, ["blue"]) == "invalid_choice"
    multi = CategoricalList(options=["a", "b", "c"])
    assert multi.clean(["c", "a", "c"]) == ["a", "c"]
    assert error_code(multi.clean, ["a", "z"]) == "invalid_choice"
    assert multi.check_value("b") == ["b"]


def test_numeric_clean():
    spec = Numeric(min_value=1, max_value=5, step=1)
    assert spec.clean(["3"]) == 3
    assert spec.clean([" "]) is None
    assert error_code(spec.clean, ["three"]) == "not_a_number"
    assert error_code(spec.clean, ["0"]) == "below_min"
    assert error_code(spec.clean, ["6"]) == "above_max"
    assert error_code(spec.clean, ["2.5"]) == "step"
    assert error_code(spec.clean, ["nan"]) == "not_a_number"
    assert error_code(spec.check_value, True) == "not_a_number"
    assert Numeric(step=0.1).clean(["0.3"]) == 0.3


def test_text_and_text_list_clean():
    assert Text(max_length=5).clean(["  hi  "]) == "hi"
    assert error_code(Text(max_length=5).clean, ["too long"]) == "too_long"
    spec = TextList(max_length_each=4, max_count=2)
    assert spec.clean(["a", " ", "b"]) == ["a", "b"]
    assert error_code(spec.clean, ["a", "b", "c"]) == "too_many"
    assert error_code(spec.clean, ["abcde"]) == "too_long"
    assert spec.clean(["", ""]) is None
