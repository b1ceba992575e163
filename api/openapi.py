"""The OpenAPI 3.1 document, generated from the route table: each route's pydantic request model (the JSON
body; query parameters for GET) and response model, its roles as a bearer-token requirement (`x-roles`), and
the one error shape every refusal has."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from api.errors import STATUS_CODES, ErrorResponse
from api.routes import RouteSpec, RouteTable

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


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


def _operation(spec: RouteSpec, components: dict[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in _PARAM.findall(spec.path)]
    op: dict[str, Any] = {"summary": spec.summary, "operationId": _operation_id(spec),
                          "x-roles": sorted(spec.roles), "x-changes-state": spec.changes_state}
    if spec.request is not None:
        if spec.method in ("GET", "HEAD", "DELETE"):
            schema = spec.request.model_json_schema(ref_template=REF)
            for name, sub in schema.pop("$defs", {}).items():
                components[name] = sub
            required = set(schema.get("required", ()))
            params += [{"name": n, "in": "query", "required": n in required, "schema": s}
                       for n, s in schema.get("properties", {}).items()]
        else:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": _schema(spec.request, components)}}}
    if params:
        op["parameters"] = params
    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(spec.response, components)}}
    responses: dict[str, Any] = {"200" if spec.method == "GET" else "2XX": ok}
    errors = [400, 404, 405]
    if spec.request is not None:
        errors.append(422)
    if not spec.public:
        op["security"] = [{"bearer": []}]
        errors += [401, 403, 429]
    if spec.changes_state:
        errors.append(409)
    for status in sorted(errors):
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
