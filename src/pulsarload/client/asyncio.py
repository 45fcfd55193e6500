"""The asyncio client, shaped like the official `pulsar.asyncio`: `Client`, `Producer`,
`Consumer` and `Reader` with the official coroutine names, over the threaded client.

Nothing here polls. A send completes through the producer's callback, a receive through a
waiter the receiver queue serves when a message arrives; both hand their result to the event
loop with `call_soon_threadsafe`. Operations that are blocking calls in the threaded client
(creating, closing, seeking, flushing) run in the loop's default executor. Failures raise
`PulsarException`, whose `error()` is the official `Result` code, as the official module.

    client = pulsarload.client.asyncio.Client("pulsar://localhost:6650")
    producer = await client.create_producer("my-topic")
    msg_id = await producer.send(b"hello")
    consumer = await client.subscribe("my-topic", "my-sub")
    msg = await consumer.receive(); await consumer.acknowledge(msg)
    await client.close()
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pulsarload.client.client import Client as _SyncClient
from pulsarload.client.consumer import Consumer as _SyncConsumer
from pulsarload.client.errors import PulsarError, Result
from pulsarload.client.message import Message
from pulsarload.client.multi import MultiTopicsConsumer
from pulsarload.client.partitioned import PartitionedProducer
from pulsarload.client.producer import Producer as _SyncProducer
from pulsarload.client.reader import Reader as _SyncReader
from pulsarload.wire.message_id import MessageId

__all__ = ["Client", "Consumer", "Producer", "PulsarException", "Reader"]


class PulsarException(PulsarError):
    """An asyncio operation failed: `error()` is the `Result` code (as the official class);
    it is also a `PulsarError`, and the threaded client's exception is its `__cause__`."""

    def __init__(self, result: Result, msg: str | None = None) -> None:
        super().__init__(msg or result.name)
        self.result = result
        self._msg = msg

    def __str__(self) -> str:
        r = self.result
        return f"{r.value} {r.name}: {self._msg}" if self._msg else f"{r.value} {r.name}"


def _wrap(err: PulsarError) -> PulsarException:
    if isinstance(err, PulsarException):
        return err
    out = PulsarException(err.result, str(err))
    out.__cause__ = err
    return out


async def _in_thread[T](fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call of the threaded client off the loop; its errors as PulsarException."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
    except PulsarError as err:
        raise _wrap(err) from err


def _settle(
    fut: asyncio.Future[Any], value: Any = None, error: BaseException | None = None
) -> None:
    """Complete `fut` from any thread (first result wins; a cancelled future stays so)."""

    def complete() -> None:
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)

    fut.get_loop().call_soon_threadsafe(complete)


class Producer:
    """Publishes to one topic; create with `Client.create_producer`."""

    def __init__(self, producer: _SyncProducer | PartitionedProducer) -> None:
        self._producer = producer

    async def send(
        self,
        content: bytes | None,
        properties: dict[str, str] | None = None,
        partition_key: str | None = None,
        ordering_key: str | None = None,
        sequence_id: int | None = None,
        replication_clusters: list[str] | None = None,
        disable_replication: bool | None = None,
        event_timestamp: int | None = None,
        deliver_at: int | None = None,
        deliver_after: timedelta | None = None,
    ) -> MessageId:
        """Send one message; returns its id once the broker has persisted it (None content
        sends a tombstone)."""
        fut: asyncio.Future[MessageId] = asyncio.get_running_loop().create_future()

        def done(result: Result, msg_id: MessageId | None) -> None:
            if result == Result.Ok:
                _settle(fut, msg_id)
            else:
                _settle(fut, error=PulsarException(result))

        call = functools.partial(
            self._producer.send_async,
            content,
            done,
            properties=properties,
            partition_key=partition_key,
            ordering_key=ordering_key,
            sequence_id=sequence_id,
            replication_clusters=replication_clusters,
            disable_replication=bool(disable_replication),
            event_timestamp=event_timestamp,
            deliver_at=deliver_at,
            deliver_after=deliver_after,
        )
        try:
            if self._blocks_when_full():
                await asyncio.get_running_loop().run_in_executor(None, call)
            else:
                call()
        except PulsarError as err:
            raise _wrap(err) from err
        return await fut

    def _blocks_when_full(self) -> bool:
        p = self._producer
        first = p.partitions[0] if isinstance(p, PartitionedProducer) else p
        return bool(first._block)

    async def flush(self) -> None:
        await _in_thread(self._producer.flush)

    async def close(self) -> None:
        await _in_thread(self._producer.close)

    def topic(self) -> str:
        return self._producer.topic()

    def producer_name(self) -> str:
        return self._producer.producer_name()

    def last_sequence_id(self) -> int:
        return self._producer.last_sequence_id()

    def is_connected(self) -> bool:
        return self._producer.is_connected()


async def _receive(receiver: _SyncConsumer | MultiTopicsConsumer) -> Message:
    """One message through the receiver queue's waiter; a cancelled receive gives back a
    message that was already on its way, so none is lost."""
    fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    loop = fut.get_loop()

    def deliver(msg: Message | None, error: BaseException | None) -> None:
        if fut.done():
            if msg is not None:
                receiver.give_back(msg)
            return
        if msg is None:
            err = error if isinstance(error, PulsarError) else PulsarError(str(error))
            fut.set_exception(_wrap(err))
            return
        receiver.accept(msg)
        fut.set_result(msg)

    def waiter(msg: Message | None, error: BaseException | None) -> None:
        loop.call_soon_threadsafe(deliver, msg, error)

    try:
        cancel = receiver.receive_async(waiter)
    except PulsarError as err:
        raise _wrap(err) from err
    try:
        return await fut
    finally:
        if not fut.done() or fut.cancelled():
            cancel()


class Consumer:
    """Receives from a subscription; create with `Client.subscribe`."""

    def __init__(self, consumer: _SyncConsumer | MultiTopicsConsumer) -> None:
        self._consumer = consumer

    async def receive(self) -> Message:
        """The next message (waits until one comes; cancel the task to stop waiting)."""
        return await _receive(self._consumer)

    async def acknowledge(self, message: Message | MessageId) -> None:
        try:
            self._consumer.acknowledge(message)
        except PulsarError as err:
            raise _wrap(err) from err

    async def acknowledge_cumulative(self, message: Message | MessageId) -> None:
        try:
            self._consumer.acknowledge_cumulative(message)
        except PulsarError as err:
            raise _wrap(err) from err

    async def negative_acknowledge(self, message: Message | MessageId) -> None:
        try:
            self._consumer.negative_acknowledge(message)
        except PulsarError as err:
            raise _wrap(err) from err

    async def unsubscribe(self) -> None:
        await _in_thread(self._consumer.unsubscribe)

    async def seek(self, messageid: MessageId | int) -> None:
        if not isinstance(messageid, MessageId | int) or isinstance(messageid, bool):
            raise ValueError(f"invalid messageid type {type(messageid)}")
        await _in_thread(self._consumer.seek, messageid)

    async def close(self) -> None:
        await _in_thread(self._consumer.close)

    async def get_last_message_id(self) -> MessageId:
        return await _in_thread(self._consumer.get_last_message_id)

    def redeliver_unacknowledged_messages(self) -> None:
        self._consumer.redeliver_unacknowledged_messages()

    def topic(self) -> str:
        return self._consumer.topic()

    def subscription_name(self) -> str:
        return self._consumer.subscription_name()

    def consumer_name(self) -> str:
        return self._consumer.consumer_name()


class Reader:
    """Reads a topic from a start position; create with `Client.create_reader`."""

    def __init__(self, reader: _SyncReader) -> None:
        self._reader = reader

    async def read_next(self) -> Message:
        """The next message (waits until one comes)."""
        receiver = self._reader.consumer
        msg = await _receive(receiver)
        # A reader keeps no subscription state: its position is what it has read.
        receiver.acknowledge_cumulative(msg)
        return msg

    async def has_message_available(self) -> bool:
        return await _in_thread(self._reader.has_message_available)

    async def seek(self, messageid: MessageId | int) -> None:
        if not isinstance(messageid, MessageId | int) or isinstance(messageid, bool):
            raise ValueError(f"invalid messageid type {type(messageid)}")
        await _in_thread(self._reader.seek, messageid)

    async def close(self) -> None:
        await _in_thread(self._reader.close)

    def topic(self) -> str:
        return self._reader.topic()

    def is_connected(self) -> bool:
        return self._reader.is_connected()


class Client:
    """The asyncio client: the threaded `Client`'s arguments, coroutines for what waits."""

    def __init__(self, service_url: str, **kwargs: Any) -> None:
        self._client = _SyncClient(service_url, **kwargs)

    async def create_producer(self, topic: str, **kwargs: Any) -> Producer:
        """Arguments as `pulsarload.client.Client.create_producer`; as in the official asyncio
        client, batching is on unless `batching_enabled=False`."""
        kwargs.setdefault("batching_enabled", True)
        return Producer(await _in_thread(self._client.create_producer, topic, **kwargs))

    async def subscribe(
        self, topic: str | list[str], subscription_name: str, **kwargs: Any
    ) -> Consumer:
        """Arguments as `pulsarload.client.Client.subscribe` (no message_listener: receive)."""
        if kwargs.get("message_listener") is not None:
            raise ValueError(
                "message_listener: the asyncio consumer receives with `await receive()`"
            )
        if kwargs.pop("is_pattern_topic", False):
            if not isinstance(topic, str):
                raise ValueError(
                    "Argument 'topic' must be a string when 'is_pattern_topic' is True"
                )
            topic = re.compile(topic)  # type: ignore[assignment]
        return Consumer(
            await _in_thread(self._client.subscribe, topic, subscription_name, **kwargs)
        )

    async def create_reader(self, topic: str, start_message_id: MessageId, **kwargs: Any) -> Reader:
        """Arguments as `pulsarload.client.Client.create_reader` (no reader_listener)."""
        if kwargs.get("reader_listener") is not None:
            raise ValueError("reader_listener: the asyncio reader reads with `await read_next()`")
        return Reader(
            await _in_thread(self._client.create_reader, topic, start_message_id, **kwargs)
        )

    async def get_topic_partitions(self, topic: str) -> list[str]:
        return await _in_thread(self._client.get_topic_partitions, topic)

    def shutdown(self) -> None:
        self._client.shutdown()

    async def close(self) -> None:
        await _in_thread(self._client.close)
