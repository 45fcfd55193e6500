"""KEY_VALUE with the SEPARATED encoding: the encoded key goes apart from the payload (the
producer puts it, base64, in the message key), the registry is told SEPARATED, and consumers
(with the pair's schema or AUTO_CONSUME) put the pair back together from key and payload."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pulsarload.client.message import Message
from pulsarload.client.schema import (
    AutoConsumeSchema,
    AutoProduceBytesSchema,
    AvroSchema,
    Integer,
    KeyValue,
    KeyValueEncodingType,
    KeyValueSchema,
    Record,
    SchemaDecodeError,
    SchemaEncodeError,
    SchemaType,
    String,
    StringSchema,
)
from pulsarload.client.schema.auto import schema_for_info
from pulsarload.client.schema.schemas import SchemaInfo
from pulsarload.wire.batch import parse_batch
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageMetadata, SingleMessageMetadata

SEPARATED = KeyValueEncodingType.SEPARATED


class Id(Record):
    region = String(required=True)
    n = Integer(required=True)


class Body(Record):
    text = String(required=True)


def _schema() -> KeyValueSchema:
    return KeyValueSchema(AvroSchema(Id), AvroSchema(Body), SEPARATED)


class _Owner:
    """What a message asks its consumer: the schema, and the registry's schema by version."""

    def __init__(self, schema: Any, writer: SchemaInfo | None = None) -> None:
        self.schema = schema
        self._writer = writer
        self.asked = 0

    def writer_schema(self, version: bytes) -> SchemaInfo | None:
        self.asked += 1
        return self._writer


def _message(payload: bytes, key: str | None, b64: bool, owner: Any, batched: bool) -> Message:
    md = MessageMetadata(
        producer_name="p", sequence_id=0, publish_time=1, schema_version=(3).to_bytes(8, "big")
    )
    if batched:
        smd = SingleMessageMetadata(
            partition_key=key, partition_key_b64_encoded=b64 or None, payload_size=len(payload)
        )
        return Message(payload, md, smd, MessageId(1, 2, 0, 0, 1), 0, "t", owner)
    md = MessageMetadata(
        producer_name="p",
        sequence_id=0,
        publish_time=1,
        partition_key=key,
        partition_key_b64_encoded=b64 or None,
        schema_version=md.schema_version,
    )
    return Message(payload, md, None, MessageId(1, 2), 0, "t", owner)


def test_separated_keeps_the_key_out_of_the_payload() -> None:
    schema = _schema()
    payload, key = schema.encode_message((Id(region="eu", n=7), Body(text="hi")))
    assert payload == AvroSchema(Body).encode(Body(text="hi"))
    assert key == AvroSchema(Id).encode(Id(region="eu", n=7))
    assert schema.encode((Id(region="eu", n=7), Body(text="hi"))) == payload
    info = schema.schema_info()
    assert info.schema_type() == SchemaType.KeyValue
    assert info.properties()["kv.encoding.type"] == "SEPARATED"
    assert info.properties()["key.schema.type"] == "AVRO"
    with pytest.raises(SchemaEncodeError, match="pair"):
        schema.encode_message(Body(text="hi"))


@pytest.mark.parametrize("batched", [False, True])
def test_a_separated_message_decodes_from_its_key_and_payload(batched: bool) -> None:
    schema = _schema()
    payload, key = schema.encode_message((Id(region="eu", n=7), Body(text="hi")))
    assert key is not None
    b64 = base64.b64encode(key).decode()
    msg = _message(payload, b64, True, _Owner(schema), batched)
    assert msg.has_base64_encoded_key() and msg.key_bytes() == key
    assert msg.value() == KeyValue(Id(region="eu", n=7), Body(text="hi"))


def test_a_plain_text_key_is_its_utf8_bytes() -> None:
    schema = KeyValueSchema(StringSchema(), StringSchema(), SEPARATED)
    msg = _message(b"value", "k\u00e9y", False, _Owner(schema), batched=False)
    assert not msg.has_base64_encoded_key()
    assert msg.value() == KeyValue("k\u00e9y", "value")


def test_a_message_without_a_key_has_a_none_key() -> None:
    schema = KeyValueSchema(StringSchema(), StringSchema(), SEPARATED)
    assert _message(b"v", None, False, _Owner(schema), False).value() == KeyValue(None, "v")


def test_a_key_that_is_not_base64_is_a_decode_error() -> None:
    schema = KeyValueSchema(StringSchema(), StringSchema(), SEPARATED)
    msg = _message(b"v", "not base64!", True, _Owner(schema), batched=True)
    with pytest.raises(SchemaDecodeError, match="base64"):
        msg.value()


@pytest.mark.parametrize("encoding", list(KeyValueEncodingType))
def test_auto_consume_reads_the_encoding_from_the_registry(
    encoding: KeyValueEncodingType,
) -> None:
    schema = KeyValueSchema(AvroSchema(Id), StringSchema(), encoding)
    assert schema_for_info(schema.schema_info()).encoding is encoding  # type: ignore[attr-defined]
    payload, key = schema.encode_message((Id(region="us", n=1), "body"))
    b64 = base64.b64encode(key).decode() if key is not None else None
    owner = _Owner(AutoConsumeSchema(), schema.schema_info())
    msg = _message(payload, b64, key is not None, owner, batched=False)
    assert msg.value() == KeyValue({"region": "us", "n": 1}, "body")
    assert owner.asked == 1


def test_a_registry_entry_without_the_encoding_property_is_inline() -> None:
    info = KeyValueSchema(StringSchema(), StringSchema()).schema_info()
    props = info.properties()
    del props["kv.encoding.type"]
    bare = SchemaInfo(SchemaType.KeyValue, "KeyValue", info.schema_bytes(), props)
    assert schema_for_info(bare).encoding is KeyValueEncodingType.INLINE  # type: ignore[attr-defined]


def test_the_separated_key_is_known_before_encoding_for_routing() -> None:
    schema = _schema()
    pair = (Id(region="eu", n=7), Body(text="hi"))
    assert schema.separated_key(pair) == schema.encode_message(pair)[1]
    assert KeyValueSchema(AvroSchema(Id), AvroSchema(Body)).separated_key(pair) is None
    encoded = AutoProduceBytesSchema(schema)
    assert encoded.separated_key((b"k", b"v")) == b"k"
    assert encoded.encode_message((b"k", b"v")) == (b"v", b"k")
    assert encoded.separated_key(b"v") is None
    with pytest.raises(SchemaEncodeError, match="encoded key"):
        encoded.encode_message((b"k", "not bytes"))


def test_the_admin_api_sees_a_pair_as_json_of_its_halves() -> None:
    info = KeyValueSchema(StringSchema(), AvroSchema(Body), SEPARATED).schema_info()
    assert json.loads(info.admin_definition()) == {"key": "", "value": Body.schema()}
    assert (
        AvroSchema(Body).schema_info().admin_definition() == AvroSchema(Body).schema_info().schema()
    )


@pytest.mark.parametrize("batching", [False, True])
def test_the_producer_flags_a_separated_key_on_the_entry_and_in_the_batch(
    fake: Any, make_client: Any, batching: bool
) -> None:
    """Each message says its key is base64, and so does the entry (batched or not): the
    broker hashes the decoded key for Key_Shared, as for the Java client's batches."""
    schema = KeyValueSchema(StringSchema(), StringSchema(), SEPARATED)
    producer = make_client(fake.url).create_producer(
        "t", schema=schema, batching_enabled=batching, batching_max_publish_delay_ms=60_000
    )
    for i in range(3):
        producer.send_async((f"k{i}", f"v{i}"), None)
    producer.flush()
    entries = [r.metadata for r in fake.received]
    assert [(md.partition_key, md.partition_key_b64_encoded) for md in entries] == (
        [("azA=", True)] if batching else [(base64.b64encode(f"k{i}".encode()).decode(), True)
                                           for i in range(3)]
    )  # fmt: skip
    if batching:
        inner = parse_batch(fake.received[0].payload, 3)
        assert [(m.partition_key, m.partition_key_b64_encoded, bytes(p)) for m, p in inner] == [
            (base64.b64encode(f"k{i}".encode()).decode(), True, f"v{i}".encode()) for i in range(3)
        ]
    # A plain key beside it carries no flag.
    plain = make_client(fake.url).create_producer("u", batching_enabled=batching)
    plain.send(b"x", partition_key="k")
    assert fake.received[-1].metadata.partition_key_b64_encoded is None
