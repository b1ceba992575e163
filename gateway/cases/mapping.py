"""Declarative field mapping: a receiver's field names (e.g. 案源编号, 发现时间) filled from paths in our task.

A mapping is `{receiver field: dotted path}`; a path names a key at each level (`place.address`,
`subject.name`, `evidence.entries`); a value starting with `=` is a literal the receiver wants in every task
(`案源来源: "=非现场执法"`). Paths are checked against the task schema when the gateway starts, so an
unknown path is a config error naming it, never a field that is silently always empty.
"""

from __future__ import annotations

from typing import Any

from gateway.cases.task import task_schema


class MappingError(ValueError):
    pass


def _resolve_ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["$defs"][name]
    if "anyOf" in node:  # Optional[X]: follow the non-null branch
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            return _resolve_ref(schema, branches[0])
    return node


def schema_paths(schema: dict[str, Any] | None = None) -> set[str]:
    """Every dotted path the task schema defines (objects and their leaves)."""
    schema = schema or task_schema()
    out: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        node = _resolve_ref(schema, node)
        for key, sub in node.get("properties", {}).items():
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            walk(sub, path)
        if node.get("additionalProperties") is True or (node.get("type") == "object" and "properties" not in node):
            out.add(f"{prefix}.*" if prefix else "*")  # free-form object (proof): any key below is allowed

    walk(schema, "")
    return out


def check_mapping(mapping: dict[str, str], paths: set[str] | None = None) -> None:
    """Raise MappingError naming the first receiver field whose path the task does not have."""
    known = paths if paths is not None else schema_paths()
    for field, path in mapping.items():
        if not field.strip():
            raise MappingError("a mapped field needs a name")
        if path.startswith("="):
            continue
        parts = path.split(".")
        ok = path in known or any(".".join(parts[:i]) + ".*" in known for i in range(1, len(parts)))
        if not ok:
            raise MappingError(f"field {field!r}: the task has no {path!r}")


def lookup(doc: Any, path: str) -> Any:
    """The value at a dotted path, or None where a level is missing (an optional part left empty)."""
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def apply_mapping(doc: dict[str, Any], mapping: dict[str, str] | None) -> dict[str, Any]:
    """The body a receiver gets: our task, or its own field names filled from it."""
    if mapping is None:
        return doc
    return {field: path[1:] if path.startswith("=") else lookup(doc, path) for field, path in mapping.items()}
