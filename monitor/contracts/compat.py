"""The compatibility rule of the topic contracts, as code.

Within a major version only additive, optional changes are allowed: no property removed, no
new required property, no type or enum narrowed, no constant changed, no closing of
``additionalProperties``. :func:`breaking_changes` lists what breaks that rule between two
versions of a schema (an empty list means compatible).

>>> old = {"type": "object", "required": ["a"], "properties": {"a": {"enum": ["x", "y"]}}}
>>> breaking_changes(old, {**old, "properties": {"a": {"enum": ["x", "y", "z"]}}})
[]
>>> breaking_changes(old, {**old, "required": ["a", "b"]})
["$: 'b' became required"]
"""

from __future__ import annotations

from typing import Any


def _types(schema: dict[str, Any]) -> set[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def breaking_changes(old: Any, new: Any, path: str = "$") -> list[str]:
    """Everything in ``new`` that breaks readers or writers of ``old``."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    problems: list[str] = []
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{path}: {name!r} became required")
    old_types, new_types = _types(old), _types(new)
    widened = {"number"} if old_types == {"integer"} else set()  # integer -> number is fine
    if old_types is not None and new_types is not None:
        new_types |= {"integer"} if widened & new_types else set()
    if old_types is not None and new_types is not None and not old_types <= new_types:
        problems.append(f"{path}: type {sorted(old_types)} narrowed to {sorted(new_types)}")
    if "enum" in old and not set(map(str, old["enum"])) <= set(map(str, new.get("enum", []))):
        problems.append(f"{path}: enum values removed")
    if "const" in old and old["const"] != new.get("const"):
        problems.append(f"{path}: const changed from {old['const']!r}")
    if (
        old.get("additionalProperties", True) is not False
        and new.get("additionalProperties") is False
    ):
        problems.append(f"{path}: additionalProperties closed")
    for key in ("properties", "$defs"):
        old_props, new_props = old.get(key, {}), new.get(key, {})
        for name, sub in old_props.items():
            if name not in new_props:
                problems.append(f"{path}.{name}: removed")
            else:
                problems += breaking_changes(sub, new_props[name], f"{path}.{name}")
    for i, (a, b) in enumerate(zip(old.get("allOf", []), new.get("allOf", []), strict=False)):
        problems += breaking_changes(a.get("then", {}), b.get("then", {}), f"{path}.allOf[{i}]")
    if len(new.get("allOf", [])) < len(old.get("allOf", [])):
        problems.append(f"{path}: allOf branches removed")
    return problems
