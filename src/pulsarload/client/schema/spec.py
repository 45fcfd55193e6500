"""A schema from a one-line spec, as a command line gives it.

    ""  or "none"            no schema: bytes, nothing registered
    "bytes", "string"        BytesSchema(), StringSchema()
    "avro:FILE" "json:FILE"  an Avro definition read from FILE (.avsc / .json)
    "avro:{...}"             ... or given inline as JSON text

A spec that cannot be used raises `ConfigError` with one line naming the spec and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from pulsarload.client.schema.avro import AvroSchemaError
from pulsarload.client.schema.schemas import (
    AvroSchema,
    BytesSchema,
    JsonSchema,
    Schema,
    StringSchema,
)
from pulsarload.errors import ConfigError

__all__ = ["SCHEMA_KINDS", "first_text_field", "parse_schema_spec"]

SCHEMA_KINDS = ("avro", "json", "string", "bytes")


def parse_schema_spec(spec: str | None) -> Schema | None:
    """The schema a spec names (None for no schema)."""
    text = (spec or "").strip()
    if text in ("", "none"):
        return None
    if text == "bytes":
        return BytesSchema()
    if text == "string":
        return StringSchema()
    kind, sep, rest = text.partition(":")
    if not sep or kind not in ("avro", "json") or not rest.strip():
        raise ConfigError(
            f"schema {text!r} is not a schema spec; use avro:FILE, json:FILE (an Avro "
            "definition, in a file or inline as JSON), string or bytes"
        )
    rest = rest.strip()
    if rest.startswith(("{", "[", '"')):
        source, where = rest, "inline definition"
    else:
        try:
            source = Path(rest).expanduser().read_text()
        except OSError as err:
            raise ConfigError(
                f"schema {text!r}: cannot read {rest}: {err.strerror or err}"
            ) from None
        where = rest
    try:
        definition = json.loads(source)
    except json.JSONDecodeError as err:
        raise ConfigError(f"schema {text!r}: {where} is not JSON: {err}") from None
    try:
        return AvroSchema(None, definition) if kind == "avro" else JsonSchema(None, definition)
    except AvroSchemaError as err:
        raise ConfigError(f"schema {text!r}: {where} is not a valid Avro schema: {err}") from None


def first_text_field(schema: Schema) -> tuple[str, str] | None:
    """(name, "string" | "bytes") of the first string or bytes field (optional ones too) of an
    Avro or JSON schema's top-level record; None when it has none."""
    if not isinstance(schema, AvroSchema | JsonSchema):
        return None
    avro = schema.avro_type
    node = avro.named.get(avro.root) if isinstance(avro.root, str) else None
    if node is None or node["type"] != "record":
        return None
    for f in node["fields"]:
        t = f["type"]
        for branch in t if isinstance(t, list) else [t]:
            if branch in ("string", "bytes"):
                return f["name"], branch
    return None
