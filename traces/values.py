"""How people type label values: the UI's data types and the JSON values they make
(Number → int or float, Boolean → bool, String → str, JSON → any parsed JSON)."""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


class DataType(models.TextChoices):
    """The UI's data types and the JSON values they make."""

    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    STRING = "string", "String"
    JSON = "json", "JSON"


def data_type_of(value: Any) -> DataType:
    """The data type a stored value is edited as."""
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, (int, float)):
        return DataType.NUMBER
    if isinstance(value, str):
        return DataType.STRING
    return DataType.JSON


def value_as_text(value: Any, data_type: str) -> str:
    """How a stored value is written in the value input of `data_type`."""
    if value is None:
        return ""
    if data_type == DataType.JSON:
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_number(text: str) -> int | float:
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        raise ValidationError(
            "“%(value)s” is not a number. Enter a number such as 4 or 0.75.",
            code="not_a_number",
            params={"value": text[:40]},
        ) from None
    if not math.isfinite(number):
        raise ValidationError("Enter a finite number.", code="not_a_number")
    if number.is_integer() and not any(c in text for c in ".eE"):
        return int(text)
    return number


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "This is not valid JSON: %(reason)s at line %(line)d, column %(column)d.",
            code="invalid_json",
            params={"reason": exc.msg, "line": exc.lineno, "column": exc.colno},
        ) from None
