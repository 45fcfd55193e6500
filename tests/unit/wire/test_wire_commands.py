"""Known byte vectors for every command and metadata type, written by hand from the proto
field numbers (key byte = number << 3 | wire type), plus round trips and the envelope."""

from __future__ import annotations

import pytest

from pulsarload.wire.commands import (
    COMMAND_CLASSES,
    CommandAck,
    CommandAckResponse,
    CommandActiveConsumerChange,
    CommandAuthChallenge,
    CommandAuthResponse,
    CommandCloseConsumer,
    CommandCloseProducer,
    CommandConnect,
    CommandConnected,
    CommandError,
    CommandFlow,
    CommandGetLastMessageId,
    CommandGetLastMessageIdResponse,
    CommandGetOrCreateSchema,
    CommandGetOrCreateSchemaResponse,
    CommandGetSchema,
    CommandGetSchemaResponse,
    CommandGetTopicsOfNamespace,
    CommandGetTopicsOfNamespaceResponse,
    CommandLookupTopic,
    CommandLookupTopicResponse,
    CommandMessage,
    CommandPartitionedTopicMetadata,
    CommandPartitionedTopicMetadataResponse,
    CommandPing,
    CommandPong,
    CommandProducer,
    CommandProducerSuccess,
    CommandReachedEndOfTopic,
    CommandRedeliverUnacknowledgedMessages,
    CommandSeek,
    CommandSend,
    CommandSendError,
    CommandSendReceipt,
    CommandSubscribe,
    CommandSuccess,
    CommandUnsubscribe,
    UnknownCommand,
    decode_base_command,
    encode_base_command,
)
from pulsarload.wire.enums import (
    AckType,
    CommandType,
    CompressionType,
    InitialPosition,
    KeySharedMode,
    LookupType,
    PartitionedMetadataResponse,
    ProducerAccessMode,
    SchemaType,
    ServerError,
    SubType,
    TopicsMode,
    ValidationError,
)
from pulsarload.wire.errors import DecodeError
from pulsarload.wire.messages import (
    AuthData,
    BrokerEntryMetadata,
    FeatureFlags,
    IntRange,
    KeySharedMeta,
    KeyValue,
    MessageIdData,
    MessageMetadata,
    Schema,
    SingleMessageMetadata,
    key_values,
    properties_dict,
)
from pulsarload.wire.protobuf import Message

MINUS_ONE = "ffffffffffffffffff01"  # -1 as an int32/int64 varint: always 10 bytes
EARLIEST_ID = f"08{MINUS_ONE}10{MINUS_ONE}"  # MessageIdData{-1, -1}: 22 bytes

VECTORS: list[tuple[Message, str]] = [
    (
        CommandConnect(
            client_version="pl",
            auth_data=b"t",
            protocol_version=21,
            auth_method_name="token",
            feature_flags=FeatureFlags(
                supports_auth_refresh=True, supports_broker_entry_metadata=True
            ),
        ),
        "0a02706c1a017420152a05746f6b656e520408011001",
    ),
    (
        CommandConnect(client_version="c", proxy_to_broker_url="pulsar://b:6650"),
        "0a0163320f70756c7361723a2f2f623a36363530",
    ),
    (
        CommandConnected(
            server_version="b",
            protocol_version=21,
            max_message_size=5 * 1024 * 1024,
            feature_flags=FeatureFlags(supports_auth_refresh=True),
        ),
        "0a01621015188080c00222020801",
    ),
    (
        CommandAuthChallenge(
            server_version="b",
            challenge=AuthData(auth_method_name="token", auth_data=b""),
            protocol_version=21,
        ),
        "0a016212090a05746f6b656e12001815",
    ),
    (
        CommandAuthResponse(
            client_version="c",
            response=AuthData(auth_method_name="token", auth_data=b"xyz"),
            protocol_version=21,
        ),
        "0a0163120c0a05746f6b656e120378797a1815",
    ),
    (CommandPing(), ""),
    (CommandPong(), ""),
    (CommandSuccess(request_id=300), "08ac02"),
    (
        CommandError(request_id=1, error=ServerError.TopicNotFound, message="no"),
        "0801100b1a026e6f",
    ),
    (CommandPartitionedTopicMetadata(topic="t", request_id=2), "0a01741002"),
    (
        CommandPartitionedTopicMetadataResponse(
            partitions=4, request_id=2, response=PartitionedMetadataResponse.Success
        ),
        "080410021800",
    ),
    (
        CommandPartitionedTopicMetadataResponse(
            request_id=2,
            response=PartitionedMetadataResponse.Failed,
            error=ServerError.AuthorizationError,
            message="m",
        ),
        "1002180120042a016d",
    ),
    (CommandLookupTopic(topic="t", request_id=3, authoritative=True), "0a017410031801"),
    (
        CommandLookupTopic(topic="t", request_id=3, advertised_listener_name="l"),
        "0a017410033a016c",
    ),
    (
        CommandLookupTopicResponse(
            brokerServiceUrl="pulsar://b:6650",
            response=LookupType.Connect,
            request_id=3,
            authoritative=True,
            proxy_through_service_url=False,
        ),
        "0a0f70756c7361723a2f2f623a363635301801200328014000",
    ),
    (
        CommandLookupTopicResponse(
            brokerServiceUrlTls="u",
            response=LookupType.Failed,
            request_id=3,
            error=ServerError.ServiceNotReady,
            message="m",
        ),
        "1201751802200330063a016d",
    ),
    (
        CommandGetTopicsOfNamespace(request_id=5, namespace="p/n", mode=TopicsMode.ALL),
        "08051203702f6e1802",
    ),
    (
        CommandGetTopicsOfNamespaceResponse(request_id=5, topics=("a", "b")),
        "0805120161120162",
    ),
    (
        CommandProducer(
            topic="t",
            producer_id=1,
            request_id=2,
            producer_name="p",
            metadata=(KeyValue(key="k", value="v"),),
            producer_access_mode=ProducerAccessMode.Exclusive,
        ),
        "0a01741001180222017032060a016b1201765001",
    ),
    (
        CommandProducer(
            topic="t", producer_id=1, request_id=2, epoch=3, user_provided_producer_name=False
        ),
        "0a01741001180240034800",
    ),
    (
        CommandProducerSuccess(
            request_id=2, producer_name="p", last_sequence_id=-1, producer_ready=True
        ),
        f"080212017018{MINUS_ONE}3001",
    ),
    (
        CommandSend(producer_id=1, sequence_id=10, num_messages=100, highest_sequence_id=109),
        "0801100a1864306d",
    ),
    (CommandSend(producer_id=1, sequence_id=0, is_chunk=True), "080110003801"),
    (
        CommandSendReceipt(
            producer_id=1,
            sequence_id=10,
            message_id=MessageIdData(ledgerId=5, entryId=6),
            highest_sequence_id=109,
        ),
        "0801100a1a0408051006206d",
    ),
    (
        CommandSendError(
            producer_id=1, sequence_id=10, error=ServerError.ChecksumError, message="x"
        ),
        "0801100a1809220178",
    ),
    (CommandCloseProducer(producer_id=1, request_id=2), "08011002"),
    (
        CommandSubscribe(
            topic="t",
            subscription="s",
            subType=SubType.Key_Shared,
            consumer_id=1,
            request_id=2,
            consumer_name="c",
            durable=False,
            start_message_id=MessageIdData(ledgerId=-1, entryId=-1),
            initialPosition=InitialPosition.Earliest,
            keySharedMeta=KeySharedMeta(
                keySharedMode=KeySharedMode.STICKY,
                hashRanges=(IntRange(start=0, end=32767),),
                allowOutOfOrderDelivery=True,
            ),
            subscription_properties=(KeyValue(key="a", value="b"),),
        ),
        "0a0174"
        "120173"
        "1803"
        "2001"
        "2802"
        "320163"
        "4000"
        f"4a16{EARLIEST_ID}"
        "6801"
        "8a010c"
        "0801"
        "1a06"
        "0800"
        "10ffff01"
        "2001"  # 17: keySharedMeta (2-byte key)
        "920106"
        "0a0161120162",  # 18: subscription_properties
    ),
    (
        CommandSubscribe(
            topic="t",
            subscription="s",
            subType=SubType.Shared,
            consumer_id=1,
            request_id=2,
            priority_level=1,
            metadata=(KeyValue(key="k", value="v"),),
            read_compacted=True,
            replicate_subscription_state=False,
            force_topic_creation=True,
            start_message_rollback_duration_sec=60,
            consumer_epoch=2,
        ),
        "0a0174120173180120012802380152060a016b12017658017000780180013c980102",
    ),
    (CommandFlow(consumer_id=1, messagePermits=1000), "080110e807"),
    (
        CommandMessage(
            consumer_id=1,
            message_id=MessageIdData(ledgerId=5, entryId=6, partition=2),
            redelivery_count=3,
            ack_set=(-2, 5),
        ),
        "08011206080510061802180320feffffffffffffffff012005",
    ),
    (
        CommandAck(
            consumer_id=1,
            ack_type=AckType.Individual,
            message_id=(
                MessageIdData(ledgerId=5, entryId=6, ack_set=(6,), batch_size=3),
                MessageIdData(ledgerId=5, entryId=7),
            ),
            validation_error=ValidationError.ChecksumMismatch,
            request_id=9,
        ),
        "080110001a0808051006280630031a040805100720024009",
    ),
    (
        CommandAck(
            consumer_id=1,
            ack_type=AckType.Cumulative,
            message_id=(MessageIdData(ledgerId=5, entryId=6),),
        ),
        "080110011a0408051006",
    ),
    (
        CommandAckResponse(
            consumer_id=1, error=ServerError.UnknownError, message="m", request_id=9
        ),
        "080120002a016d3009",
    ),
    (
        CommandRedeliverUnacknowledgedMessages(
            consumer_id=1, message_ids=(MessageIdData(ledgerId=5, entryId=6),)
        ),
        "0801120408051006",
    ),
    (CommandUnsubscribe(consumer_id=1, request_id=2), "08011002"),
    (CommandUnsubscribe(consumer_id=1, request_id=2, force=True), "080110021801"),
    (
        CommandCloseConsumer(consumer_id=1, request_id=2, assignedBrokerServiceUrl="u"),
        "080110021a0175",
    ),
    (CommandReachedEndOfTopic(consumer_id=1), "0801"),
    (
        CommandSeek(consumer_id=1, request_id=2, message_id=MessageIdData(ledgerId=-1, entryId=-1)),
        f"080110021a16{EARLIEST_ID}",
    ),
    (CommandSeek(consumer_id=1, request_id=2, message_publish_time=1000), "0801100220e807"),
    (CommandGetLastMessageId(consumer_id=1, request_id=2), "08011002"),
    (
        CommandGetLastMessageIdResponse(
            last_message_id=MessageIdData(ledgerId=5, entryId=6),
            request_id=2,
            consumer_mark_delete_position=MessageIdData(ledgerId=5, entryId=4),
        ),
        "0a040805100610021a0408051004",
    ),
    (CommandActiveConsumerChange(consumer_id=1, is_active=True), "08011001"),
    # --- non-command messages ---
    (
        MessageMetadata(
            producer_name="p",
            sequence_id=10,
            publish_time=1000,
            properties=(KeyValue(key="k", value="v"),),
            partition_key="key",
            compression=CompressionType.LZ4,
            uncompressed_size=300,
            num_messages_in_batch=1,
            event_time=5,
            ordering_key=b"o",
            deliver_at_time=7,
            highest_sequence_id=10,
            null_value=True,
            uuid="u",
            num_chunks_from_msg=2,
            total_chunk_msg_size=100,
            chunk_id=0,
        ),
        "0a0170"
        "100a"
        "18e807"
        "22060a016b120176"
        "32036b6579"
        "4001"
        "48ac02"
        "5801"
        "6005"
        "9201016f"  # 18 ordering_key
        "980107"  # 19 deliver_at_time
        "c0010a"  # 24 highest_sequence_id
        "c80101"  # 25 null_value
        "d2010175"  # 26 uuid
        "d80102"  # 27 num_chunks_from_msg
        "e00164"  # 28 total_chunk_msg_size
        "e80100",  # 29 chunk_id
    ),
    (
        MessageMetadata(
            producer_name="p",
            sequence_id=0,
            publish_time=1,
            replicated_from="r",
            replicate_to=("a", "b"),
            schema_version=b"\x00",
            partition_key_b64_encoded=False,
            marker_type=1,
            null_partition_key=True,
        ),
        "0a0170100018012a01723a01613a016282010100880100a00101f00101",
    ),
    (
        SingleMessageMetadata(
            properties=(KeyValue(key="a", value="b"),),
            partition_key="k",
            payload_size=1024,
            compacted_out=False,
            event_time=9,
            partition_key_b64_encoded=True,
            ordering_key=b"o",
            sequence_id=77,
            null_value=False,
            null_partition_key=True,
        ),
        "0a060a016112016212016b1880082000280930013a016f404d48005001",
    ),
    (SingleMessageMetadata(payload_size=0), "1800"),
    (BrokerEntryMetadata(broker_timestamp=1000, index=42), "08e807102a"),
    (
        MessageIdData(
            ledgerId=1, entryId=2, partition=3, batch_index=4, ack_set=(7,), batch_size=5
        ),
        "080110021803200428073005",
    ),
    (MessageIdData(ledgerId=-1, entryId=-1), EARLIEST_ID),
    (KeyValue(key="", value="é"), "0a001202c3a9"),
    (
        FeatureFlags(
            supports_auth_refresh=True,
            supports_broker_entry_metadata=True,
            supports_partial_producer=False,
            supports_topic_watchers=True,
        ),
        "0801100118002001",
    ),
    (AuthData(auth_method_name="token", auth_data=b"\x00\xff"), "0a05746f6b656e120200ff"),
    (KeySharedMeta(keySharedMode=KeySharedMode.AUTO_SPLIT), "0800"),
    (IntRange(start=-1, end=0), f"08{MINUS_ONE}1000"),
    (CommandGetSchema(request_id=1, topic="t", schema_version=b"\x00"), "08011201741a0100"),
    (
        CommandGetSchemaResponse(
            request_id=1,
            error_code=ServerError.TopicNotFound,
            error_message="m",
            schema=Schema(
                name="n",
                schema_data=b"d",
                type=SchemaType.Avro,
                properties=(KeyValue(key="k", value="v"),),
            ),
            schema_version=b"\x01",
        ),
        "0801100b1a016d22100a016e1a016420042a060a016b1201762a0101",
    ),
    (
        CommandGetOrCreateSchema(
            request_id=2, topic="t", schema=Schema(name="", schema_data=b"", type=SchemaType.String)
        ),
        "08021201741a060a001a002001",
    ),
    (
        CommandGetOrCreateSchemaResponse(
            request_id=2,
            error_code=ServerError.IncompatibleSchema,
            error_message="x",
            schema_version=b"\x00",
        ),
        "080210121a0178220100",
    ),
]


def _vector_id(vector: tuple[Message, str]) -> str:
    return type(vector[0]).__name__


@pytest.mark.parametrize(("msg", "hex_bytes"), VECTORS, ids=[_vector_id(v) for v in VECTORS])
def test_known_bytes(msg: Message, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert msg.encode() == data
    assert type(msg).decode(data) == msg


def test_every_registered_command_has_a_vector() -> None:
    covered = {type(m) for m, _ in VECTORS}
    wanted = {c for t, c in COMMAND_CLASSES.items()}
    assert wanted <= covered


@pytest.mark.parametrize(
    ("cmd", "hex_bytes"),
    [
        (CommandPing(), "0812920100"),  # type 18, sub-command at field 18 (2-byte key)
        (CommandPong(), "08139a0100"),
        (CommandFlow(consumer_id=1, messagePermits=1000), "080b5a05080110e807"),
        (CommandSend(producer_id=1, sequence_id=2), "0806320408011002"),
        (CommandSuccess(request_id=1), "080d6a020801"),
        (CommandAckResponse(consumer_id=1), "0826b202020801"),  # type 38
        (CommandConnect(client_version="c"), "080212030a0163"),
    ],
)
def test_base_command_envelope(cmd: Message, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert encode_base_command(cmd) == data
    assert decode_base_command(data) == cmd
    assert data[1] == cmd.TYPE  # type: ignore[attr-defined]


@pytest.mark.parametrize(("msg", "hex_bytes"), [v for v in VECTORS if hasattr(v[0], "TYPE")])
def test_every_command_round_trips_through_the_envelope(msg: Message, hex_bytes: str) -> None:
    assert decode_base_command(encode_base_command(msg)) == msg


def test_envelope_tolerates_field_order_and_unknown_fields() -> None:
    # sub-command first, then an unknown varint field 99, then the type
    data = bytes.fromhex("5a05080110e80798060b080b")
    assert decode_base_command(data) == CommandFlow(consumer_id=1, messagePermits=1000)


def test_empty_sub_command_may_be_absent() -> None:
    assert decode_base_command(b"\x08\x12") == CommandPing()


def test_unknown_command_type_is_returned_not_raised() -> None:
    # type 64 with its body at field 64 ((64 << 3) | 2 = 0x202 -> "8204")
    cmd = decode_base_command(bytes.fromhex("08408204020801"))
    assert cmd == UnknownCommand(type=64, body=b"\x08\x01")
    assert decode_base_command(b"\x08\x40") == UnknownCommand(type=64, body=b"")


@pytest.mark.parametrize(
    ("hex_bytes", "match"),
    [
        ("", "type .* missing"),
        ("5a02", "past the end"),
        ("0806", "sub-command .* missing"),  # SEND without its required fields
        ("08", "truncated"),
        ("080632020801", "CommandSend: required field sequence_id"),
    ],
)
def test_bad_envelopes(hex_bytes: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode_base_command(bytes.fromhex(hex_bytes))


def test_enum_fields_decode_to_members() -> None:
    cmd = CommandSubscribe.decode(bytes.fromhex("0a01741201731803200128026801"))
    assert cmd.subType is SubType.Key_Shared
    assert cmd.initialPosition is InitialPosition.Earliest


def test_command_types_are_registered_under_their_number() -> None:
    for ctype, cls in COMMAND_CLASSES.items():
        assert ctype == cls.TYPE  # type: ignore[attr-defined]
        assert isinstance(ctype, CommandType)


def test_key_value_helpers() -> None:
    kvs = key_values({"a": "1", "b": "2"})
    assert kvs == (KeyValue(key="a", value="1"), KeyValue(key="b", value="2"))
    assert properties_dict(kvs) == {"a": "1", "b": "2"}
