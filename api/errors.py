"""The API's error shape, `{"error": {"code", "message", "field"?}}`, and the request-body parsing that produces
400 (not JSON) or 422 (JSON the request model refuses, naming the field)."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

# The code each status gets when a handler or aiohttp itself does not name a more specific one.
STATUS_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
    500: "internal_error", 503: "unavailable",
}

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """Raised by handlers (and the access check); the middleware answers it as a JSON error."""

    def __init__(self, status: int, message: str, *, code: str | None = None, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, field=self.field, headers=self.headers)


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """What every refused API request gets, whatever its status."""

    error: ErrorBody


def error_response(status: int, code: str, message: str, *, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return web.json_response({"error": body}, status=status, headers=headers)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<body>"


def validation_error(exc: ValidationError, *, prefix: str = "") -> ApiError:
    """A 422 naming the first refused field (the message lists every problem)."""
    errors = exc.errors()
    first = _field(errors[0]["loc"]) if errors else "<body>"
    problems = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in errors)
    return ApiError(422, problems, field=prefix + first)


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The request body as `model`: 400 when it is not a JSON document, 422 when the model refuses it."""
    raw = await request.read()
    try:
        doc = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}", code="malformed_json") from None
    if doc is None:
        raise ApiError(400, "a JSON request body is required", code="malformed_json")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise validation_error(exc) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    """Query parameters as `model` (a repeated key keeps its first value), with the path parameters it has a
    field for (the OpenAPI document describes those from the same field): 422 naming the parameter."""
    values = dict(request.query)
    values.update((k, v) for k, v in request.match_info.items() if k in model.model_fields)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc) from None
