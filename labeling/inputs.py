"""The input kinds of a labeling schema, parsed from `LabelingSchema.input_config`.

Each kind knows its settings (and how to check them), how to turn what a labeler submitted into
an assessment value (and how to refuse it, with a message), and how agreement compares values.
The console, the review app and the agreement figures all go through these classes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from django.core.exceptions import ValidationError
from django.db import models


class InputType(models.TextChoices):
    PASS_FAIL = "pass_fail", "Pass / fail"
    CATEGORICAL = "categorical", "Categorical"
    CATEGORICAL_LIST = "categorical_list", "Categorical list"
    NUMERIC = "numeric", "Numeric"
    TEXT = "text", "Text"
    TEXT_LIST = "text_list", "Text list"


# How agreement statistics treat a kind's values.
Level = Literal["nominal", "interval", "set", "text"]

# Limits of a question's settings (README, "Limits"): longer or more is refused, never cut.
OPTIONS_MAX_COUNT = 200
OPTION_MAX_LENGTH = 250
PASS_FAIL_LABEL_MAX_LENGTH = 100


def _clean_options(options: Any) -> list[str]:
    if not isinstance(options, list):
        raise ValidationError("Options must be a list.", code="options")
    cleaned = [str(option).strip() for option in options]
    cleaned = [option for option in cleaned if option]
    if not cleaned:
        raise ValidationError("Give at least one option.", code="options_empty")
    seen: set[str] = set()
    duplicates = []
    for option in cleaned:
        key = option.casefold()
        if key in seen:
            duplicates.append(option)
        seen.add(key)
    if duplicates:
        raise ValidationError(
            f"Options must be unique; repeated: {', '.join(duplicates)}.", code="options_unique"
        )
    if any(len(option) > OPTION_MAX_LENGTH for option in cleaned):
        raise ValidationError(
            f"Each option may be at most {OPTION_MAX_LENGTH} characters.", code="options"
        )
    return cleaned


def _positive_int(value: Any, label: str, *, required: bool = False) -> int | None:
    if value in (None, ""):
        if required:
            raise ValidationError(f"{label} is required.", code="required")
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{label} must be a whole number.", code="invalid")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{label} must be a whole number.", code="invalid") from None
    if isinstance(value, float) and not value.is_integer():
        raise ValidationError(f"{label} must be a whole number.", code="invalid")
    if number <= 0:
        raise ValidationError(f"{label} must be positive.", code="not_positive")
    return number


def _number(value: Any, label: str) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{label} must be a number.", code="invalid")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{label} must be a number.", code="invalid") from None
    if not math.isfinite(number):
        raise ValidationError(f"{label} must be a finite number.", code="invalid")
    return int(number) if number.is_integer() else number


@dataclass(frozen=True)
class InputSpec:
    """Base of the input kinds. `raw` answers are the list of strings a form posted."""

    input_type: ClassVar[str]
    level: ClassVar[Level]

    def to_config(self) -> dict[str, Any]:
        return asdict(self)

    def check_limits(self) -> None:
        """The limits on a question's settings (OPTIONS_MAX_COUNT, …): checked when a curator
        saves them (`labeling.services`, the console form), not when a stored schema is read,
        so that questions saved before a limit existed still load. ValidationError."""

    def clean(self, raw: list[str]) -> Any:
        """The assessment value for `raw`, None when unanswered; ValidationError when invalid."""
        raise NotImplementedError

    def check_value(self, value: Any) -> Any:
        """Validate an already-typed value (from JSON); returns it or raises ValidationError."""
        raise NotImplementedError

    def initial(self, value: Any) -> list[str]:
        """The form strings that show `value` again (to pre-fill a form)."""
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [str(value)]


@dataclass(frozen=True)
class PassFail(InputSpec):
    positive_label: str = "Pass"
    negative_label: str = "Fail"

    input_type = InputType.PASS_FAIL
    level = "nominal"

    def __post_init__(self) -> None:
        positive = (self.positive_label or "").strip()
        negative = (self.negative_label or "").strip()
        if not positive or not negative:
            raise ValidationError("Both labels are required.", code="labels_required")
        if positive.casefold() == negative.casefold():
            raise ValidationError("The two labels must differ.", code="labels_unique")
        object.__setattr__(self, "positive_label", positive)
        object.__setattr__(self, "negative_label", negative)

    def clean(self, raw: list[str]) -> bool | None:
        values = [v for v in raw if v != ""]
        if not values:
            return None
        if values[-1] in ("true", "yes", "1", "pass"):
            return True
        if values[-1] in ("false", "no", "0", "fail"):
            return False
        raise ValidationError(
            f"Choose {self.positive_label} or {self.negative_label}.", code="invalid_choice"
        )

    def check_value(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("The answer must be true or false.", code="invalid_choice")
        return value

    def initial(self, value: Any) -> list[str]:
        if value is None:
            return []
        return ["true" if value else "false"]

    def display(self, value: Any) -> str:
        return self.positive_label if value else self.negative_label

    def check_limits(self) -> None:
        for label in (self.positive_label, self.negative_label):
            if len(label) > PASS_FAIL_LABEL_MAX_LENGTH:
                raise ValidationError(
                    f"Each label may be at most {PASS_FAIL_LABEL_MAX_LENGTH} characters.",
                    code="label_length",
                )


@dataclass(frozen=True)
class Categorical(InputSpec):
    options: list[str] = field(default_factory=list)
    multi: bool = False

    input_type = InputType.CATEGORICAL
    level = "nominal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _clean_options(self.options))
        object.__setattr__(self, "multi", bool(self.multi))

    @property
    def is_multi(self) -> bool:
        return self.multi

    def check_limits(self) -> None:
        if len(self.options) > OPTIONS_MAX_COUNT:
            raise ValidationError(
                f"Give at most {OPTIONS_MAX_COUNT} options; there are {len(self.options):,}.",
                code="options_count",
            )

    def clean(self, raw: list[str]) -> str | list[str] | None:
        values = [v for v in raw if v != ""]
        if not values:
            return None
        if self.is_multi:
            return self.check_value(values)
        return self.check_value(values[-1])

    def check_value(self, value: Any) -> str | list[str]:
        if self.is_multi:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValidationError("Choose one or more of the options.", code="invalid_choice")
            unknown = [v for v in value if v not in self.options]
            if unknown:
                raise ValidationError(
                    f"{', '.join(unknown)} is not one of the options.", code="invalid_choice"
                )
            # Keep the curator's order, drop repeats.
            return [option for option in self.options if option in value]
        if not isinstance(value, str) or value not in self.options:
            raise ValidationError(f"{value!r} is not one of the options.", code="invalid_choice")
        return value


@dataclass(frozen=True)
class CategoricalList(Categorical):
    """Several options may be chosen; the answer is a list (MLflow's InputCategoricalList)."""

    multi: bool = True

    input_type = InputType.CATEGORICAL_LIST
    level = "set"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "multi", True)


@dataclass(frozen=True)
class Numeric(InputSpec):
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None

    input_type = InputType.NUMERIC
    level = "interval"

    def __post_init__(self) -> None:
        low = _number(self.min_value, "The minimum")
        high = _number(self.max_value, "The maximum")
        step = _number(self.step, "The step")
        if low is not None and high is not None and low >= high:
            raise ValidationError("The minimum must be below the maximum.", code="min_max")
        if step is not None and step <= 0:
            raise ValidationError("The step must be positive.", code="step")
        object.__setattr__(self, "min_value", low)
        object.__setattr__(self, "max_value", high)
        object.__setattr__(self, "step", step)

    def clean(self, raw: list[str]) -> float | int | None:
        values = [v.strip() for v in raw if v.strip() != ""]
        if not values:
            return None
        try:
            number = float(values[-1])
        except ValueError:
            raise ValidationError(f"{values[-1]!r} is not a number.", code="not_a_number") from None
        return self.check_value(int(number) if number.is_integer() else number)

    def check_value(self, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("The answer must be a number.", code="not_a_number")
        if not math.isfinite(value):
            raise ValidationError("The answer must be a finite number.", code="not_a_number")
        if self.min_value is not None and value < self.min_value:
            raise ValidationError(
                f"The answer must be at least {self.min_value}.", code="below_min"
            )
        if self.max_value is not None and value > self.max_value:
            raise ValidationError(f"The answer must be at most {self.max_value}.", code="above_max")
        if self.step is not None:
            base = self.min_value or 0
            steps = (value - base) / self.step
            if not math.isclose(steps, round(steps), abs_tol=1e-9):
                raise ValidationError(
                    f"The answer must be in steps of {self.step}"
                    + (f" from {self.min_value}." if self.min_value is not None else "."),
                    code="step",
                )
        return value


@dataclass(frozen=True)
class Text(InputSpec):
    max_length: int | None = None

    input_type = InputType.TEXT
    level = "text"

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_length", _positive_int(self.max_length, "The maximum length"))

    def clean(self, raw: list[str]) -> str | None:
        text = (raw[-1] if raw else "").strip()
        if not text:
            return None
        return self.check_value(text)

    def check_value(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("The answer must be text.", code="invalid")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(
                f"The answer is {len(value)} characters long; the limit is {self.max_length}.",
                code="too_long",
            )
        return value


@dataclass(frozen=True)
class TextList(InputSpec):
    max_length_each: int | None = None
    max_count: int | None = None

    input_type = InputType.TEXT_LIST
    level = "set"

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "max_length_each",
            _positive_int(self.max_length_each, "The maximum length of each entry"),
        )
        object.__setattr__(
            self, "max_count", _positive_int(self.max_count, "The maximum number of entries")
        )

    def clean(self, raw: list[str]) -> list[str] | None:
        values = [v.strip() for v in raw if v.strip()]
        if not values:
            return None
        return self.check_value(values)

    def check_value(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("The answer must be a list of texts.", code="invalid")
        if self.max_count is not None and len(value) > self.max_count:
            raise ValidationError(
                f"Give at most {self.max_count} entries; there are {len(value)}.",
                code="too_many",
            )
        if self.max_length_each is not None:
            for entry in value:
                if len(entry) > self.max_length_each:
                    raise ValidationError(
                        f"Each entry may be at most {self.max_length_each} characters; "
                        f"one is {len(entry)}.",
                        code="too_long",
                    )
        return value


INPUT_CLASSES: dict[str, type[InputSpec]] = {
    cls.input_type: cls for cls in (PassFail, Categorical, CategoricalList, Numeric, Text, TextList)
}


def parse_input(input_type: str, config: dict[str, Any] | None) -> InputSpec:
    """The typed input of a schema; ValidationError with a clear message when the settings are
    invalid (unknown kind, options empty or repeated, min not below max, lengths not positive)."""
    try:
        cls = INPUT_CLASSES[input_type]
    except KeyError:
        raise ValidationError(f"Unknown input kind {input_type!r}.", code="input_type") from None
    config = dict(config or {})
    known = {f for f in cls.__dataclass_fields__}
    unknown = set(config) - known
    if unknown:
        raise ValidationError(
            f"Unknown settings for {cls.input_type}: {', '.join(sorted(unknown))}.",
            code="input_config",
        )
    return cls(**config)
