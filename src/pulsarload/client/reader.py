"""`Reader`: replay a topic from a chosen message id, without a durable subscription.

A reader is an Exclusive consumer on a non-durable subscription that starts at
`start_message_id` (`MessageId.EARLIEST` = (-1, -1), `MessageId.LATEST`, or any id; with
`start_message_id_inclusive` that message itself comes first). The broker forgets the
subscription when the reader closes, and after a reconnect the reader resumes right after the
last message it handed out. It acknowledges what it hands out cumulatively (grouped), as the
Java reader does: the broker announces the end of a terminated topic only to a subscription
with nothing unacknowledged. Names follow the official client
(`Client.create_reader`, `read_next`, `has_message_available`, `seek`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pulsarload.client.consumer_config import (
    ConsumerCryptoFailureAction,
    ConsumerType,
    SubscriptionMode,
)
from pulsarload.client.errors import InvalidConfiguration
from pulsarload.client.message import Message
from pulsarload.client.schema.schemas import Schema
from pulsarload.wire.message_id import EARLIEST, LATEST, MessageId

if TYPE_CHECKING:
    from pulsarload.client.client import Client
    from pulsarload.client.consumer import Consumer
    from pulsarload.client.multi import MultiTopicsConsumer

__all__ = ["Reader", "ReaderListener", "open_reader"]

type ReaderListener = Callable[["Reader", Message], None]


def _start_id(value: object) -> MessageId:
    if isinstance(value, MessageId):
        return value
    if isinstance(value, str) and value.lower() in ("earliest", "latest"):
        return EARLIEST if value.lower() == "earliest" else LATEST
    if isinstance(value, bytes | bytearray | memoryview):
        return MessageId.deserialize(value)
    raise InvalidConfiguration(
        f"start_message_id: expected a MessageId, 'earliest', 'latest' or serialized id bytes, "
        f"got {value!r}"
    )


class Reader:
    """Reads a topic from a start position. Create with `Client.create_reader`."""

    def __init__(self, consumer: Consumer | MultiTopicsConsumer) -> None:
        self._consumer = consumer

    @property
    def consumer(self) -> Consumer | MultiTopicsConsumer:
        """The non-durable consumer underneath."""
        return self._consumer

    def topic(self) -> str:
        return self._consumer.topic()

    def read_next(self, timeout_millis: int | None = None) -> Message:
        """The next message; raises `Timeout` when none arrives within `timeout_millis`."""
        msg = self._consumer.receive(timeout_millis)
        self._consumer.acknowledge_cumulative(msg)
        return msg

    def has_message_available(self) -> bool:
        """Whether a `read_next` would find a message now (asks the broker for the last id
        when nothing is queued)."""
        c = self._consumer
        if c.num_messages_in_queue() > 0:
            return True
        for part in c.consumers:
            last = part.get_last_message_id()
            if last.entry_id < 0:
                continue  # nothing written
            ref = part._last_dequeued
            if ref is None:
                start = part._start_id
                if start is None or start == EARLIEST:
                    return True
                if start == LATEST:
                    continue
                here = (last.ledger_id, last.entry_id)
                there = (start.ledger_id, start.entry_id)
                if here > there or (here == there and part._start_inclusive):
                    return True
                continue
            if (last.ledger_id, last.entry_id) > (ref.ledger_id, ref.entry_id):
                return True
            if (last.ledger_id, last.entry_id) == (ref.ledger_id, ref.entry_id) and (
                last.batch_index > ref.batch_index
            ):
                return True
        return False

    def seek(self, target: MessageId | int | str) -> None:
        """Move to a message id (it comes next) or a publish time in ms (the first message at
        or after it comes next), or `earliest` / `latest`."""
        self._consumer.seek(target)

    def get_last_message_id(self) -> MessageId:
        return self._consumer.get_last_message_id()

    def has_reached_end_of_topic(self) -> bool:
        return self._consumer.has_reached_end_of_topic()

    def is_connected(self) -> bool:
        return self._consumer.is_connected()

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Reader on {self.topic()}>"


def open_reader(
    client: Client,
    topic: str,
    start_message_id: MessageId | str | bytes,
    reader_listener: ReaderListener | None,
    receiver_queue_size: int,
    reader_name: str | None,
    subscription_role_prefix: str | None,
    is_read_compacted: bool,
    crypto_key_reader: Any,
    start_message_id_inclusive: bool,
    crypto_failure_action: ConsumerCryptoFailureAction | str,
    schema: Schema | None = None,
) -> Reader:
    """Create a reader: `Client.create_reader` (which holds the official signature and its
    defaults) calls this; on a partitioned topic only `earliest` / `latest` starts are
    accepted."""
    start = _start_id(start_message_id)
    if not isinstance(topic, str):
        raise InvalidConfiguration(f"topic: a reader reads one topic, got {topic!r}")
    if subscription_role_prefix is not None and not (
        isinstance(subscription_role_prefix, str) and subscription_role_prefix
    ):
        raise InvalidConfiguration("subscription_role_prefix: expected a non-empty string")
    if reader_listener is not None and not callable(reader_listener):
        raise InvalidConfiguration(
            f"reader_listener: expected a callable(reader, message), got {reader_listener!r}"
        )
    holder: list[Reader] = []
    listener = None
    if reader_listener is not None:

        def listener(consumer: Any, msg: Message) -> None:
            reader_listener(holder[0], msg)
            consumer.acknowledge_cumulative(msg)

    sub = f"{subscription_role_prefix or 'reader'}-{uuid.uuid4().hex[:10]}"
    inclusive_latest = start == LATEST and start_message_id_inclusive
    consumer = client.subscribe(
        topic,
        sub,
        consumer_type=ConsumerType.Exclusive,
        message_listener=listener,
        receiver_queue_size=receiver_queue_size,
        consumer_name=reader_name,
        is_read_compacted=is_read_compacted,
        crypto_key_reader=crypto_key_reader,
        crypto_failure_action=crypto_failure_action,
        start_message_id_inclusive=start_message_id_inclusive,
        subscription_mode=SubscriptionMode.NonDurable,
        start_message_id=start,
        schema=schema,
    )
    reader = Reader(consumer)
    holder.append(reader)
    kids = consumer.consumers
    if len(kids) > 1 and start not in (EARLIEST, LATEST):
        consumer.close()
        raise InvalidConfiguration(
            "start_message_id: a reader on a partitioned topic starts at earliest or latest"
        )
    if inclusive_latest:
        # "latest, inclusive": the last message written comes first.
        for part in kids:
            last = part.get_last_message_id()
            if last.entry_id >= 0:
                part.seek(last)  # with its batch index: the rest of the batch is skipped
    return reader
