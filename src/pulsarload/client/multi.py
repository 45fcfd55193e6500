"""Consumers over several topics: partitioned topics, lists of topics and regex patterns.

A `MultiTopicsConsumer` holds one `Consumer` per partition (a non-partitioned topic counts as
one) and a single `ReceiverQueue` they all feed, so `receive` and the listener thread see one
stream. Each partition keeps its own flow control, acks, negative acks and reconnects; a
message's ack goes to the partition consumer it came from. The receiver queue size of each
partition is `min(receiver_queue_size, max_total_receiver_queue_size_across_partitions / n)`.

A `PatternConsumer` lists its namespace (GET_TOPICS_OF_NAMESPACE) on its own thread every
`pattern_auto_discovery_period` seconds, subscribes to topics that newly match the regex and
drops consumers of topics that are gone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pulsarload.client.consumer import Consumer
from pulsarload.client.consumer_config import (
    ConsumerConfig,
    InitialPosition,
    TopicPattern,
    parse_seek_target,
)
from pulsarload.client.errors import (
    AlreadyClosed,
    InvalidConfiguration,
    PulsarError,
)
from pulsarload.client.message import Message
from pulsarload.client.receiving import ReceiverQueue, Receiving
from pulsarload.client.redeliveries import RedeliveryCounts
from pulsarload.client.topics import partition_name, topic_name
from pulsarload.wire.enums import TopicsMode
from pulsarload.wire.message_id import EARLIEST, LATEST, MessageId

if TYPE_CHECKING:
    from pulsarload.client.handler import ClientServices

__all__ = ["MultiTopicsConsumer", "PatternConsumer", "base_topic_of"]

log = logging.getLogger(__name__)

_PARTITION_MARK = "-partition-"


def base_topic_of(topic: str) -> str:
    """`persistent://t/n/x-partition-3` -> `persistent://t/n/x` (other names unchanged)."""
    head, sep, tail = topic.rpartition(_PARTITION_MARK)
    return head if sep and tail.isdigit() else topic


class MultiTopicsConsumer(Receiving):
    """One consumer over several topics or partitions. Create with `Client.subscribe`."""

    def __init__(self, client: ClientServices, conf: ConsumerConfig) -> None:
        self._client = client
        self._conf = conf
        self._queue = ReceiverQueue()
        self._lock = threading.Lock()
        #: Partition (or topic) name -> its consumer.
        self._consumers: dict[str, Consumer] = {}
        #: Base topic -> number of partitions (0: not partitioned).
        self._topics: dict[str, int] = {}
        self._closed_event = threading.Event()
        self._closed = False
        self._listener_thread = None
        self._listener_running = threading.Event()

    # --- creation -----------------------------------------------------------------------------

    def _start(self) -> None:
        try:
            plan = [(t, self._client.partition_count(t)) for t in self._conf.topics]
            self._add_topics(plan)
        except BaseException:
            self._close_children()
            raise
        self._client.register(self)
        self._start_listener()
        interval = self._client.config.partitions_update_interval_seconds
        if interval > 0 and any(self._topics.values()):
            self._client.spawn(self._watch_partitions, "pulsar-partitions-watch", interval)

    def _watch_partitions(self, interval: float) -> None:
        """Subscribe to partitions added to a partitioned topic while this consumer reads it."""
        while not self._closed_event.wait(interval):
            if self._client.closed:
                return
            for topic, known in self._partitioned_topics():
                try:
                    count = self._client.partition_count(topic)
                except PulsarError as err:  # the next round tries again
                    log.debug("partition check of %s failed: %s", topic, err)
                    continue
                if count > known:
                    self.grow_partitions(topic, count)

    def _partitioned_topics(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(t, n) for t, n in self._topics.items() if n > 0]

    def grow_partitions(self, topic: str, count: int) -> int:
        """Subscribe to partitions ``known..count-1`` of ``topic``; returns how many were added
        (0 if it has no new ones, is not read here, or a subscription failed: retried later)."""
        with self._lock:
            known = self._topics.get(topic, 0)
        if known == 0 or count <= known:  # not read here, not partitioned, or nothing new
            return 0
        names = [(partition_name(topic, i), topic, i) for i in range(known, count)]
        # A new partition holds only messages sent since it was made, possibly before this
        # check saw it: read them all, or messages from a producer that saw the partition
        # first would be skipped by a consumer starting at the latest position.
        conf = replace(self._conf, initial_position=InitialPosition.Earliest)
        try:
            started = self._subscribe(names, [(topic, count)], conf)
        except PulsarError as err:
            log.warning("cannot subscribe to new partitions of %s: %s", topic, err)
            return 0
        if started:
            log.info("%s: %d partitions now (%d new)", topic, count, len(started))
        return len(started)

    def _queue_size_for(self, total: int) -> int:
        conf = self._conf
        per = conf.max_total_receiver_queue_size_across_partitions // max(1, total)
        return max(1, min(conf.receiver_queue_size, per))  # zero-queue: one per partition

    def _add_topics(self, plan: list[tuple[str, int]]) -> list[Consumer]:
        """Subscribe to every partition of the (topic, partitions) pairs; all or nothing."""
        names: list[tuple[str, str, int]] = []
        for topic, partitions in plan:
            if partitions > 0:
                names.extend((partition_name(topic, i), topic, i) for i in range(partitions))
            else:
                names.append((topic, topic, -1))
        return self._subscribe(names, plan)

    def _subscribe(
        self,
        names: list[tuple[str, str, int]],
        plan: list[tuple[str, int]],
        conf: ConsumerConfig | None = None,
    ) -> list[Consumer]:
        """Start a consumer per (name, base topic, partition index); all or nothing. ``plan``
        records each base topic's partition count once they are all subscribed."""
        with self._lock:
            total = len(self._consumers) + len(names)
        size = self._queue_size_for(total)
        started: list[Consumer] = []
        try:
            for name, base, index in names:
                c = Consumer(
                    self._client,
                    conf or self._conf,
                    name,
                    index,
                    queue=self._queue,
                    parent=self,
                    queue_size=size,
                    base_topic=base,
                )
                c._start()
                started.append(c)
        except BaseException:
            for c in started:
                with contextlib.suppress(PulsarError):
                    c.close()
            raise
        with self._lock:
            closed = self._closed
            if not closed:
                for c in started:
                    self._consumers[c.topic()] = c
                for topic, partitions in plan:
                    self._topics[topic] = partitions
        if closed:  # closed while subscribing (a discovery round racing close)
            for c in started:
                with contextlib.suppress(PulsarError):
                    c.close()
            return []
        return started

    def _remove_topic(self, topic: str) -> None:
        with self._lock:
            self._topics.pop(topic, None)
            gone = [
                name for name in self._consumers if name == topic or base_topic_of(name) == topic
            ]
            children = [self._consumers.pop(name) for name in gone]
        for c in children:
            with contextlib.suppress(PulsarError):
                c.close()

    # --- info ---------------------------------------------------------------------------------

    def topic(self) -> str:
        """The topic (or the comma-joined topics) this consumer reads."""
        return ",".join(self._topics) if len(self._topics) != 1 else next(iter(self._topics))

    def topics(self) -> list[str]:
        with self._lock:
            return list(self._topics)

    def subscription_name(self) -> str:
        return self._conf.subscription_name

    def consumer_name(self) -> str:
        with self._lock:
            first = next(iter(self._consumers.values()), None)
        return first.consumer_name() if first is not None else (self._conf.consumer_name or "")

    @property
    def consumers(self) -> list[Consumer]:
        """The per-partition consumers."""
        with self._lock:
            return list(self._consumers.values())

    def is_connected(self) -> bool:
        kids = self.consumers
        return bool(kids) and all(c.is_connected() for c in kids)

    @property
    def reconnect_attempt(self) -> int:
        """The furthest re-subscribe attempt among the topics (0 when all are subscribed)."""
        return max((c.reconnect_attempt for c in self.consumers), default=0)

    def redelivery_counts(self) -> RedeliveryCounts:
        """Messages redelivered per reason, summed over the topics' consumers."""
        total = RedeliveryCounts()
        for c in self.consumers:
            total += c.redelivery_counts()
        return total

    def has_reached_end_of_topic(self) -> bool:
        kids = self.consumers
        return bool(kids) and all(c.has_reached_end_of_topic() for c in kids)

    def __repr__(self) -> str:
        return (
            f"<MultiTopicsConsumer {self.topic()} x{len(self._consumers)} "
            f"sub={self._conf.subscription_name}>"
        )

    # --- acks ---------------------------------------------------------------------------------

    def _owner_of(self, message: Message | MessageId, what: str) -> Consumer:
        if self._closed:
            raise AlreadyClosed(f"consumer on {self.topic()} is closed")
        if isinstance(message, Message):
            owner = message._owner
            if owner is None or owner._parent is not self:
                raise InvalidConfiguration(f"{what}: this message came from another consumer")
            return owner
        if isinstance(message, MessageId):
            kids = self.consumers
            if len(kids) == 1:
                return kids[0]
            named = message.topic_name()  # set by MessageId.deserialize(data, topic=...)
            if named is not None:
                full = topic_name(named)
                matches = [c for c in kids if c.topic() == full]
                if len(matches) == 1:
                    return matches[0]
                raise InvalidConfiguration(f"{what}: {named} is not a topic of this consumer")
            matches = [c for c in kids if c._partition == message.partition >= 0]
            if len(matches) == 1:
                return matches[0]
            raise InvalidConfiguration(
                f"{what}: a bare MessageId cannot name its topic on a multi-topic consumer; "
                "pass the Message"
            )
        raise InvalidConfiguration(f"{what}: expected a Message or MessageId, got {message!r}")

    def acknowledge(self, message: Message | MessageId) -> None:
        self._owner_of(message, "acknowledge").acknowledge(message)

    def acknowledge_many(self, messages: Sequence[Message]) -> None:
        """Acknowledge several messages, one call per run of messages from one partition."""
        start, n = 0, len(messages)
        while start < n:
            owner = self._owner_of(messages[start], "acknowledge")
            end = start + 1
            while end < n and getattr(messages[end], "_owner", None) is owner:
                end += 1
            owner.acknowledge_many(messages[start:end])
            start = end

    def acknowledge_cumulative(self, message: Message | MessageId) -> None:
        """Cumulative within the message's own partition (as the Java client)."""
        self._owner_of(message, "acknowledge_cumulative").acknowledge_cumulative(message)

    def negative_acknowledge(self, message: Message | MessageId) -> None:
        self._owner_of(message, "negative_acknowledge").negative_acknowledge(message)

    def redeliver_unacknowledged_messages(self) -> None:
        for c in self.consumers:
            c.redeliver_unacknowledged_messages()

    # --- seek ---------------------------------------------------------------------------------

    def seek(self, target: MessageId | int | str) -> None:
        """Seek every partition to `earliest`, `latest` or a publish time; a message id seeks
        the one partition it names."""
        t = parse_seek_target(target)
        if self._closed:
            raise AlreadyClosed(f"consumer on {self.topic()} is closed")
        kids = self.consumers
        if isinstance(t, MessageId) and t not in (EARLIEST, LATEST):
            if len(kids) == 1:
                kids[0].seek(t)
                return
            matches = [c for c in kids if c._partition == t.partition >= 0]
            if len(matches) != 1:
                raise InvalidConfiguration(
                    f"seek: message id {t} names no single partition of {self.topic()}; "
                    "use LEDGER:ENTRY:PARTITION"
                )
            matches[0].seek(t)
            return
        for c in kids:
            c.seek(t)

    def get_last_message_id(self) -> MessageId:
        kids = self.consumers
        if len(kids) != 1:
            raise InvalidConfiguration(
                "get_last_message_id: a multi-topic consumer has one last id per partition; "
                "ask each of .consumers"
            )
        return kids[0].get_last_message_id()

    # --- closing ------------------------------------------------------------------------------

    def _close_children(self) -> None:
        with self._lock:
            kids = list(self._consumers.values())
            self._consumers.clear()
        for c in kids:
            try:
                c.close()
            except Exception:
                log.exception("closing %r", c)

    def unsubscribe(self) -> None:
        for c in self.consumers:
            c.unsubscribe()
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._closed_event.set()
        self._close_children()
        self._queue.close(AlreadyClosed(f"consumer on {self.topic()} is closed"))
        self._queue.remove_if(lambda m: True)
        self._stop_listener()
        self._client.forget(self)

    def __enter__(self) -> MultiTopicsConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PatternConsumer(MultiTopicsConsumer):
    """A multi-topic consumer over the topics matching a regex, re-listed periodically."""

    def __init__(self, client: ClientServices, conf: ConsumerConfig) -> None:
        super().__init__(client, conf)
        assert conf.pattern is not None
        self._pattern: TopicPattern = conf.pattern
        self._poller: threading.Thread | None = None
        #: Discovery rounds completed (tests wait on it).
        self.discoveries = 0

    def _start(self) -> None:
        try:
            self._discover()
        except BaseException:
            self._close_children()
            raise
        self._client.register(self)
        self._start_listener()
        self._poller = self._client.spawn(
            self._poll, f"pulsar-pattern-{self._conf.subscription_name}"
        )

    def topic(self) -> str:
        return self._pattern.regex.pattern

    def _list_topics(self) -> list[str]:
        mode = TopicsMode(int(self._conf.regex_subscription_mode))
        return self._client.topics_of_namespace(self._pattern.namespace, mode)

    def _discover(self) -> None:
        """One discovery round: subscribe to new matches, drop topics that vanished."""
        listed = self._list_topics()
        partitions: dict[str, int] = {}
        for name in listed:
            base = base_topic_of(name)
            if not self._pattern.matches(base):
                continue
            if base != name:
                partitions[base] = max(partitions.get(base, 0), int(name.rsplit("-", 1)[1]) + 1)
            else:
                partitions.setdefault(base, 0)
        with self._lock:
            known = dict(self._topics)
        new = [t for t in partitions if t not in known]
        gone = [t for t in known if t not in partitions]
        if new:
            plan = [(t, self._client.partition_count(t)) for t in new]
            log.info("pattern %s: subscribing to %s", self._pattern.regex.pattern, new)
            self._add_topics(plan)
        for t in gone:
            log.info("pattern %s: %s is gone; closing its consumer", self._pattern.regex.pattern, t)
            self._remove_topic(t)
        self.discoveries += 1

    def _poll(self) -> None:
        period = float(self._conf.pattern_auto_discovery_period)
        while not self._closed_event.wait(period):
            try:
                self._discover()
            except PulsarError as err:
                log.warning("pattern %s: discovery failed: %s", self._pattern.regex.pattern, err)
            except Exception:
                log.exception("pattern %s: discovery failed", self._pattern.regex.pattern)

    def close(self) -> None:
        super().close()
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(2.0)
