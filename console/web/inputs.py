"""Reading request bodies: a JSON object or a form, with named 4xx errors for anything else."""

from __future__ import annotations

import math
import re
from typing import Any

from flask import request
from werkzeug.routing import IntegerConverter, Map

from console.db import INTEGER_MAX
from console.domain.errors import ValidationFailed

_WHOLE = re.compile(r"-?[0-9]{1,40}")


def body() -> dict[str, Any]:
    """The request's JSON object, or its form fields; an empty body is an empty dict."""
    if request.is_json:
        data = request.get_json(silent=True)
        if data is None and request.get_data():
            raise ValidationFailed("The body is not valid JSON.")
        data = data if data is not None else {}
        if not isinstance(data, dict):
            raise ValidationFailed("The body must be a JSON object.")
        check_values(data)
        return data
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


def check_values(value: Any, depth: int = 0) -> None:
    """Refuse what JSON admits but nothing downstream can store: a lone UTF-16 surrogate (which a
    browser's JSON.stringify escapes as \\ud800) and numbers that are not finite (1e400)."""
    if depth > 32:
        raise ValidationFailed("The body is nested too deeply.")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationFailed("The text holds a character that is not valid Unicode.") from exc
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationFailed("Numbers must be finite.")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_values(key, depth + 1)
            check_values(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_values(item, depth + 1)


def whole_number(name: str, value: Any, *, minimum: int = 0, maximum: int = INTEGER_MAX) -> int:
    """A JSON integer or a string of ASCII digits, within bounds; never a float or a bool."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(f"{name}: must be a whole number")
    if isinstance(value, str) and not _WHOLE.fullmatch(value):
        raise ValidationFailed(f"{name}: must be a whole number")
    number = int(value)
    if not minimum <= number <= maximum:
        raise ValidationFailed(f"{name}: must be between {minimum} and {maximum}")
    return number


def query_integer(
    name: str, default: int | None = None, *, minimum: int = 0, maximum: int = INTEGER_MAX
) -> int | None:
    """An integer from the query string; absent or empty gives `default`."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    return whole_number(name, value, minimum=minimum, maximum=maximum)


def text(
    data: dict[str, Any], name: str, *, required: bool = True, max_len: int = 200
) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name}: must be text")
    if len(value) > max_len:
        raise ValidationFailed(f"{name}: at most {max_len} characters")
    return value


def integer(
    data: dict[str, Any],
    name: str,
    *,
    required: bool = True,
    minimum: int = -INTEGER_MAX,
    maximum: int = INTEGER_MAX,
) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{name}: required")
        return None
    return whole_number(name, value, minimum=minimum, maximum=maximum)


class BoundedInt(IntegerConverter):
    """The app's `<int:…>` URL converter: an id past any column's range is no route (404), where
    Werkzeug's own would pass it on to fail in the database."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INTEGER_MAX)
        super().__init__(url_map, *args, **kwargs)
