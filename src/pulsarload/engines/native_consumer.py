"""The native engine's consumer: pulsarload's own client behind the `EngineConsumer` protocol.

Each worker gets its own `Client` (its own connection and reader thread) and one consumer on
it; closing the engine consumer closes both. Settings map onto the client's consumer:
subscription type, initial position, receiver queue size, a regex (`pattern`) instead of the
topic, priority, the dead-letter policy (`max_redeliveries`, `dlq_topic`) and the ack strategy
(`grouped`: the client groups acks every 100 ms / 1000 acks; anything else acks at once).
Bad input (a regex that does not compile, a seek target that does not parse) raises a
`ConfigError` before any network traffic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pulsarload.client import Client, ConsumerDeadLetterPolicy, Message, Timeout
from pulsarload.client.consumer_config import parse_seek_target
from pulsarload.client.errors import InvalidConfiguration
from pulsarload.config import ConsumeSettings
from pulsarload.engines.base import EngineConsumer, ReceivedMessage

__all__ = ["NativeConsumer", "create_native_consumer", "wrap_message"]

#: Ack grouping of the "grouped" strategy (the official client's defaults).
GROUP_TIME_MS = 100
GROUP_MAX_SIZE = 1000


def wrap_message(msg: Message) -> ReceivedMessage:
    """The load layer's view of a received message (`handle` keeps the client's Message)."""
    return ReceivedMessage(
        data=msg.data(),
        topic=msg.topic_name(),
        message_id=str(msg.message_id()),
        publish_time_ms=msg.publish_timestamp(),
        event_time_ms=msg.event_timestamp(),
        redelivery_count=msg.redelivery_count(),
        key=msg.partition_key() or None,
        properties=msg.properties(),
        handle=msg,
    )


class NativeConsumer:
    """An `EngineConsumer` over a native consumer and the client it owns."""

    def __init__(self, client: Client, consumer: Any) -> None:
        self._client = client
        self._consumer = consumer

    @property
    def consumer(self) -> Any:
        return self._consumer

    def receive(self, timeout_ms: int) -> ReceivedMessage | None:
        try:
            return wrap_message(self._consumer.receive(timeout_millis=max(0, int(timeout_ms))))
        except Timeout:
            return None

    def acknowledge(self, message: ReceivedMessage) -> None:
        self._consumer.acknowledge(message.handle)

    def acknowledge_cumulative(self, message: ReceivedMessage) -> None:
        self._consumer.acknowledge_cumulative(message.handle)

    def negative_acknowledge(self, message: ReceivedMessage) -> None:
        self._consumer.negative_acknowledge(message.handle)

    def seek(self, target: str) -> None:
        """`earliest`, `latest`, `LEDGER:ENTRY[:PARTITION]`, or ms since the epoch."""
        parsed = parse_seek_target(target)  # a bad target fails before any network call
        self._consumer.seek(parsed)

    def queue_fill(self) -> int:
        return self._consumer.num_messages_in_queue()

    def reconnect_attempt(self) -> int:
        return getattr(self._consumer, "reconnect_attempt", 0)

    def close(self) -> None:
        try:
            self._consumer.close()
        finally:
            self._client.close()


def _topic_argument(settings: ConsumeSettings) -> Any:
    if not settings.pattern:
        return settings.topic
    try:
        return re.compile(settings.pattern)
    except re.error as err:
        raise InvalidConfiguration(f"pattern: bad regex {settings.pattern!r}: {err}") from None


def create_native_consumer(
    client: Client,
    settings: ConsumeSettings,
    name: str | None,
    listener: Callable[[ReceivedMessage], None] | None = None,
) -> EngineConsumer:
    """Subscribe per `settings` on `client` (which the returned consumer owns and closes,
    also when subscribing fails)."""
    try:
        topic = _topic_argument(settings)
        kwargs: dict[str, Any] = {
            "consumer_type": settings.subscription_type,
            "initial_position": settings.initial_position,
            "receiver_queue_size": settings.receiver_queue_size,
            "consumer_name": name or None,
            "priority_level": settings.priority or None,
        }
        if settings.ack == "grouped":
            kwargs["ack_grouping_time_ms"] = GROUP_TIME_MS
            kwargs["ack_grouping_max_size"] = GROUP_MAX_SIZE
        else:
            kwargs["ack_grouping_time_ms"] = 0
        if settings.max_redeliveries:
            kwargs["dead_letter_policy"] = ConsumerDeadLetterPolicy(
                max_redeliver_count=settings.max_redeliveries,
                dead_letter_topic=settings.dlq_topic or None,
            )
        if listener is not None:

            def on_message(_consumer: Any, msg: Message) -> None:
                listener(wrap_message(msg))

            kwargs["message_listener"] = on_message
        consumer = client.subscribe(topic, settings.subscription, **kwargs)
    except BaseException:
        client.close()
        raise
    return NativeConsumer(client, consumer)
