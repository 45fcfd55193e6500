"""The broker's schema registry over the binary protocol: GET_SCHEMA (a topic's schema, the
latest or one version) and GET_OR_CREATE_SCHEMA (register one and learn its version)."""

from __future__ import annotations

from pulsarload.client.connection import Connection
from pulsarload.client.errors import error_from_server
from pulsarload.client.schema.schemas import SchemaInfo, schema_version_bytes
from pulsarload.wire.commands import (
    CommandGetOrCreateSchema,
    CommandGetOrCreateSchemaResponse,
    CommandGetSchema,
    CommandGetSchemaResponse,
)
from pulsarload.wire.enums import ServerError

__all__ = ["get_or_create_schema", "get_schema"]


def get_schema(conn: Connection, topic: str, version: bytes | int | None) -> SchemaInfo | None:
    """The schema of `topic` at `version` (None: the latest); None when the topic has none."""
    if isinstance(version, int):
        version = schema_version_bytes(version)
    resp: CommandGetSchemaResponse = conn.request(
        lambda rid: CommandGetSchema(request_id=rid, topic=topic, schema_version=version or None),
        f"GET_SCHEMA {topic}",
    )
    if resp.error_code is not None:
        if resp.error_code == ServerError.TopicNotFound:
            return None  # the broker's answer for "no schema"
        raise error_from_server(resp.error_code, resp.error_message)
    if resp.schema is None:
        return None
    return SchemaInfo.from_wire(resp.schema)


def get_or_create_schema(conn: Connection, topic: str, info: SchemaInfo) -> bytes:
    """Register `info` on `topic` if the registry takes it; its version (8 bytes).
    Raises `IncompatibleSchema` when the topic's compatibility rules refuse it."""
    resp: CommandGetOrCreateSchemaResponse = conn.request(
        lambda rid: CommandGetOrCreateSchema(request_id=rid, topic=topic, schema=info.to_wire()),
        f"GET_OR_CREATE_SCHEMA {topic}",
    )
    if resp.error_code is not None:
        raise error_from_server(resp.error_code, resp.error_message)
    return resp.schema_version or b""
