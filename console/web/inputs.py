"""Reading request bodies: a JSON object or a form, with named 4xx errors for anything else."""

from __future__ import annotations

from typing import Any

from flask import request

from console.domain.errors import ValidationFailed


def body() -> dict[str, Any]:
    """The request's JSON object, or its form fields; an empty body is an empty dict."""
    if request.is_json:
        data = request.get_json(silent=True)
        if data is None and request.get_data():
            raise ValidationFailed("The body is not valid JSON.")
        data = data if data is not None else {}
        if not isinstance(data, dict):
            raise ValidationFailed("The body must be a JSON object.")
        return data
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


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


def integer(data: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{name}: required")
        return None
    if isinstance(value, bool):
        raise ValidationFailed(f"{name}: must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{name}: must be a whole number") from exc
