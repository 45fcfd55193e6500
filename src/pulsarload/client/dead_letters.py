"""Dead letters: messages redelivered past the policy's count move to a dead-letter topic.

`DeadLetters` is the consumer's part that remembers which received entries reached
`max_redeliver_count`, and instead of redelivering them once more publishes them (with their
properties, keys and `REAL_TOPIC` / `ORIGIN_MESSAGE_ID`) to the dead-letter topic on a
short-lived thread, then acknowledges them. Redeliveries of an entry being moved are dropped.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from typing import Any

from pulsarload.client.consumer_config import ConsumerConfig, ConsumerType, InitialPosition
from pulsarload.client.errors import PulsarError
from pulsarload.client.message import Message
from pulsarload.wire.commands import CommandRedeliverUnacknowledgedMessages
from pulsarload.wire.enums import SubType
from pulsarload.wire.message_id import MessageId

__all__ = ["DeadLetters"]

log = logging.getLogger(__name__)

#: How many dead-lettered entries a consumer remembers, to drop redeliveries of them.
_DLQ_REMEMBERED = 100_000


class DeadLetters:
    """Moving messages to the dead-letter topic (see the module docstring). Part of `Consumer`."""

    def _init_dead_letters(self, conf: ConsumerConfig, sub_type: SubType) -> None:
        shared = sub_type in (SubType.Shared, SubType.Key_Shared)
        self._dlq_max = conf.dead_letter_max
        self._dlq_lock = threading.Lock()
        self._dlq_candidates: dict[MessageId, list[Message]] = {}
        # Entries handed to the dead-letter producer (insertion-ordered, trimmed): never given
        # to the application again, whatever redelivery crosses the ack that removes them.
        self._dlq_moving: dict[MessageId, None] = {}
        # Shared with a dead-letter policy: entries the application took and has not acked.
        # A redeliver-all sends back these (by id) and leaves what is still queued alone, so
        # each message is seen max_redeliver_count + 1 times before it moves, as with the
        # official client (a broker-side redeliver-all would also count up messages that
        # were only prefetched, and move them unseen).
        self._handed: dict[MessageId, None] | None = {} if self._dlq_max and shared else None
        self._dlq_backlog: list[list[Message]] = []
        self._dlq_running = False
        self._dlq_producer: Any = None

    def _dlq_topic(self) -> str:
        policy = self._conf.dead_letter_policy
        assert policy is not None
        return policy.dead_letter_topic or (
            f"{self._base_topic}-{self._conf.subscription_name}-DLQ"
        )

    def _dead_letter(self, batches: list[list[Message]]) -> None:
        with self._dlq_lock:
            moving = self._dlq_moving
            for batch in batches:
                moving[batch[0]._id.entry] = None
            while len(moving) > _DLQ_REMEMBERED:
                del moving[next(iter(moving))]
            self._dlq_backlog.extend(batches)
            if self._dlq_running:
                return
            self._dlq_running = True
        self._client.spawn(self._dlq_loop, f"pulsar-dlq-{self._consumer_id}")

    def _dlq_loop(self) -> None:
        while True:
            with self._dlq_lock:
                if not self._dlq_backlog or self._closed_event.is_set():
                    self._dlq_running = False
                    return
                batch = self._dlq_backlog.pop(0)
            try:
                producer = self._dlq_producer
                if producer is None:
                    producer = self._dlq_producer = self._create_dlq_producer()
                for msg in batch:
                    props = dict(msg.properties())
                    props.setdefault("REAL_TOPIC", msg.topic_name())
                    mid = msg.message_id()
                    # The official client's spelling of the id: "(ledger,entry,partition,batch)".
                    props.setdefault("ORIGIN_MESSAGE_ID", f"({mid[0]},{mid[1]},{mid[2]},{mid[3]})")
                    producer.send(
                        msg.data(),
                        properties=props,
                        partition_key=msg.partition_key() or None,
                        ordering_key=(msg._md if msg._smd is None else msg._smd).ordering_key,
                        event_timestamp=msg.event_timestamp() or None,
                    )
            except PulsarError as err:
                log.warning(
                    "consumer %s: dead-lettering to %s failed (%s); redelivering instead",
                    self._name,
                    self._dlq_topic(),
                    err,
                )
                entries = {m._id.entry for m in batch}
                with self._dlq_lock:
                    for e in entries:
                        self._dlq_moving.pop(e, None)
                if not self._closed_event.is_set():
                    self._redeliver_plain(entries)
                continue
            for msg in batch:
                with contextlib.suppress(PulsarError):
                    self.acknowledge(msg)
            log.info(
                "consumer %s: %d message(s) moved to %s", self._name, len(batch), self._dlq_topic()
            )

    def _redeliver_plain(self, entries: Iterable[MessageId]) -> None:
        conn = self._conn
        if conn is None:
            return
        with contextlib.suppress(PulsarError):
            conn.send_command(
                CommandRedeliverUnacknowledgedMessages(
                    consumer_id=self._consumer_id,
                    message_ids=tuple(m.to_data() for m in sorted(entries)),
                )
            )

    def _create_dlq_producer(self) -> Any:
        policy = self._conf.dead_letter_policy
        assert policy is not None
        topic = self._dlq_topic()
        if policy.initial_subscription_name:
            # Create the subscription first, so the dead letters are retained for it.
            sub = self._client.subscribe(
                topic,
                policy.initial_subscription_name,
                consumer_type=ConsumerType.Shared,
                initial_position=InitialPosition.Earliest,
                receiver_queue_size=1,
            )
            sub.close()
        return self._client.create_producer(
            topic,
            producer_name=f"{self._conf.subscription_name}-{self._name}-DLQ",
            batching_enabled=False,
            block_if_queue_full=True,
        )
