"""A connector's form, generated from its type's settings schema, and the posted form read
back into a config.

The schema is the one ``GET /api/v1/connector-types`` publishes (the pydantic model's),
so a new setting on a connector appears on its form with no dashboard change. Field
names are the dotted paths the validator reports problems under (``settings.base_url``,
``settings.team_mapping.projects``), so each problem lands at its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FormField", "form_fields", "config_from_form", "SECRET_FORMAT"]

SECRET_FORMAT = "secret-reference"  # core.secrets.SecretRef's schema format


@dataclass
class FormField:
    """One input: ``kind`` picks the widget (text, number, integer, checkbox, select,
    list, map, secret, group); a group holds ``children``."""

    name: str
    label: str
    kind: str
    help: str = ""
    required: bool = False
    default: Any = None
    options: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    value: str = ""
    checked: bool = False
    error: str = ""
    children: list[FormField] = field(default_factory=list)


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """``X | None`` is ``anyOf: [X, null]`` in the schema: the X."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return {**schema, **options[0]} if len(options) == 1 else schema


def _kind(schema: dict[str, Any]) -> str:
    if schema.get("format") == SECRET_FORMAT:
        return "secret"
    if "enum" in schema:
        return "select"
    kind = schema.get("type")
    if kind == "boolean":
        return "checkbox"
    if kind in ("number", "integer"):
        return str(kind)
    if kind == "array":
        return "list"
    if kind == "object":
        return "map"
    return "text"


def _label(name: str, schema: dict[str, Any]) -> str:
    return str(schema.get("title") or name.replace("_", " ").capitalize())


def form_fields(
    schema: dict[str, Any], prefix: str = "settings", defs: dict[str, Any] | None = None
) -> list[FormField]:
    """The fields for a settings schema (nested models become groups)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    required = set(schema.get("required", []))
    fields = []
    for name, raw in schema.get("properties", {}).items():
        spec = _plain(raw)
        path = f"{prefix}.{name}"
        if "$ref" in spec:
            nested = defs.get(spec["$ref"].rsplit("/", 1)[-1], {})
            fields.append(
                FormField(
                    path,
                    _label(name, {**nested, **raw}),
                    "group",
                    help=str(raw.get("description") or nested.get("description") or ""),
                    children=form_fields(nested, path, defs),
                )
            )
            continue
        kind = _kind(spec)
        fields.append(
            FormField(
                path,
                _label(name, spec),
                kind,
                help=str(raw.get("description") or spec.get("description") or ""),
                required=name in required,
                default=raw.get("default", spec.get("default")),
                options=[str(o) for o in spec.get("enum", [])],
                minimum=spec.get("minimum", spec.get("exclusiveMinimum")),
                maximum=spec.get("maximum", spec.get("exclusiveMaximum")),
            )
        )
    return fields


def _shown(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "list":
        return ", ".join(str(v) for v in value)
    if kind == "map":
        return "\n".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def fill(
    fields: list[FormField], values: dict[str, Any], errors: dict[str, str], posted: bool
) -> None:
    """Put current values (from a stored config, or as posted) and errors on the fields."""
    for f in fields:
        f.error = errors.get(f.name, "")
        if f.kind == "group":
            fill(f.children, values, errors, posted)
            continue
        value = values.get(f.name)
        if f.kind == "checkbox":
            f.checked = bool(value) if value is not None or posted else bool(f.default)
        elif posted:
            f.value = "" if value is None else str(value)
        else:
            f.value = _shown(f.kind, value)


def flatten(settings: dict[str, Any], prefix: str = "settings") -> dict[str, Any]:
    """A stored config's settings as field name -> value (nested models flattened)."""
    flat: dict[str, Any] = {}
    for name, value in settings.items():
        path = f"{prefix}.{name}"
        if isinstance(value, dict) and not _is_map_value(value):
            flat.update(flatten(value, path))
        flat[path] = value
    return flat


def _is_map_value(value: dict[str, Any]) -> bool:
    return all(isinstance(v, str | int | float) for v in value.values())


def _parse(f: FormField, raw: str) -> tuple[Any, str]:
    """(value, problem) for one posted text; value None leaves the setting out."""
    text = raw.strip()
    if not text:
        return None, "Required." if f.required else ""
    if f.kind == "integer":
        try:
            return int(text), ""
        except ValueError:
            return None, "A whole number."
    if f.kind == "number":
        try:
            return float(text), ""
        except ValueError:
            return None, "A number."
    if f.kind == "list":
        return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()], ""
    if f.kind == "map":
        mapping = {}
        for line in filter(None, (ln.strip() for ln in text.splitlines())):
            key, sep, value = line.partition(":") if ":" in line else line.partition("=")
            if not sep or not key.strip() or not value.strip():
                return None, f'"{line}" is not "key: value".'
            mapping[key.strip()] = value.strip()
        return mapping, ""
    return text, ""


def config_from_form(
    fields: list[FormField], posted: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings, problems by field name) from a posted form; what cannot even be read
    (a number that is not one) is a problem here, the rest is the validator's to judge."""
    settings: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in fields:
        key = f.name.rsplit(".", 1)[-1]
        if f.kind == "group":
            nested, nested_problems = config_from_form(f.children, posted)
            problems.update(nested_problems)
            if nested:
                settings[key] = nested
            continue
        if f.kind == "checkbox":
            on = posted.get(f.name) == "on"
            if on != bool(f.default):
                settings[key] = on
            continue
        value, problem = _parse(f, posted.get(f.name, ""))
        if problem:
            problems[f.name] = problem
        elif value is not None:
            settings[key] = value
    return settings, problems
