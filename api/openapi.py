"""The OpenAPI 3.1 document, generated from the route table: each route's pydantic request model (the JSON
body; query parameters for GET, and path parameters for its fields named like one) and response model, its
roles as a bearer-token requirement (`x-roles`), and the one error shape every refusal has.

A request or response model is a JSON body unless it says otherwise with a `media_type` class variable; for
`text/event-stream` it is the `data` of each event (schemathesis and other clients validate each event against
the event schema documented here)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from api.errors import STATUS_CODES, ErrorResponse
from api.routes import RouteSpec, RouteTable

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([^{}:]+)(?::((?:[^{}]|\{[^{}]*\})*))?\}")  # aiohttp's: a regex may hold {m,n}
JSON = "application/json"
EVENT_STREAM = "text/event-stream"


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """A $ref to `model`, its schema and every nested one hoisted into components."""
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _error(status: int) -> dict[str, Any]:
    return {"description": STATUS_CODES.get(status, "error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}}


def media_type(model: type[BaseModel]) -> str:
    """How a response model's body is sent: its `media_type` class variable, JSON without one."""
    return str(getattr(model, "media_type", JSON))


def _content(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    media = media_type(model)
    ref = _schema(model, components)
    if media != EVENT_STREAM:
        return {media: {"schema": ref}}
    event = {"type": "object", "required": ["id", "event", "data"], "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "resume with Last-Event-ID: this"},
        "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": JSON, "contentSchema": ref}}}
    return {media: {"schema": event}}


def _path_params(spec: RouteSpec, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Path parameters: a request model's field of the same name describes one, else a string (matching the
    route's `{name:regex}` when it has one)."""
    params = []
    for name, regex in _PARAM.findall(spec.path):
        schema = fields.get(name) or ({"type": "string", "pattern": f"^(?:{regex})$"} if regex else {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _operation(spec: RouteSpec, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": spec.summary, "operationId": _operation_id(spec),
                          "x-roles": sorted(spec.roles), "x-changes-state": spec.changes_state}
    query: dict[str, Any] = {}
    required: set[str] = set()
    if spec.request is not None:
        if spec.method in ("GET", "HEAD", "DELETE"):
            schema = spec.request.model_json_schema(ref_template=REF)
            for name, sub in schema.pop("$defs", {}).items():
                components[name] = sub
            required = set(schema.get("required", ()))
            query = dict(schema.get("properties", {}))
        else:
            op["requestBody"] = {"required": True,
                                 "content": {media_type(spec.request): {"schema": _schema(spec.request, components)}}}
    params = _path_params(spec, query)
    in_path = {p["name"] for p in params}
    params += [{"name": n, "in": "query", "required": n in required, "schema": s}
               for n, s in query.items() if n not in in_path]
    if params:
        op["parameters"] = params
    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None:
        ok["content"] = _content(spec.response, components)
    responses: dict[str, Any] = {"200" if spec.method == "GET" else "2XX": ok}
    errors = [400, 404, 405]
    if spec.request is not None:
        errors.append(422)
    if not spec.public:
        op["security"] = [{"bearer": []}]
        errors += [401, 403, 429]
    if spec.changes_state:
        errors.append(409)
    # What a handler answers beyond what every route of its kind may (a link's 403, a busy writer's 503), for a
    # table whose specs say it.
    errors += spec.errors
    for status in sorted(set(errors)):
        responses[str(status)] = _error(status)
    op["responses"] = responses
    return op


def _operation_id(spec: RouteSpec) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", spec.path.removeprefix("/api/")).strip("_")
    return f"{spec.method.lower()}_{words}"


def build_document(table: RouteTable, *, title: str = "enforcegw console API", version: str = "1") -> dict[str, Any]:
    components: dict[str, Any] = {}
    _schema(ErrorResponse, components)
    paths: dict[str, dict[str, Any]] = {}
    for spec in table.routes:
        paths.setdefault(_PARAM.sub(r"{\1}", spec.path), {})[spec.method.lower()] = _operation(spec, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Bearer tokens from `enforcegw token create`; each operation lists the roles "
                                "allowed in `x-roles` (`public`: no token). Errors are "
                                '`{"error": {"code", "message", "field"?}}`.'},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
