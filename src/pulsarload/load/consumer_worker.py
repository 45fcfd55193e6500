"""`ConsumerWorker`: one consumer thread, taking messages in batches, checking sequences,
timing end-to-end latency from each message's intended send time, and acknowledging."""

from __future__ import annotations

import random
import threading
import time
from collections import deque

from pulsarload.client.redeliveries import RedeliveryCounts
from pulsarload.client.schema import parse_schema_spec
from pulsarload.config import ConsumeSettings
from pulsarload.engines.base import (
    Engine,
    EngineConsumer,
    ReceivedBatch,
    ReceivedMessage,
    engine_redelivery_counts,
)
from pulsarload.load.clock import Clock
from pulsarload.load.payloads import (
    parse_verify_header,
)
from pulsarload.load.peek import MessagePeek
from pulsarload.load.schema_payloads import StampReader, decodes_records
from pulsarload.load.verify import SequenceTracker
from pulsarload.load.workers import IDLE_SLEEP_S, MessageBudget, Worker
from pulsarload.metrics.recorder import Recorder, RecorderSlot

#: How often a consumer worker carries its client's redelivery counts into its recorder.
REDELIVERY_POLL_NS = 100_000_000
CUMULATIVE_EVERY = 100  # the cumulative strategy acks every Nth message (and the last)
RECEIVE_MANY_MAX = 1000  # most messages a consumer worker takes from the engine per call


class ConsumerWorker(Worker):
    role = "consumer"

    def __init__(
        self,
        index: int,
        engine: Engine,
        slot: RecorderSlot,
        settings: ConsumeSettings,
        *,
        name: str | None = None,
        budget: MessageBudget | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(index, engine, slot, name, clock)
        self.settings = settings
        self.budget = budget
        #: A seek to apply once subscribed, set by the pool (a seek is applied once, by one
        #: worker: it moves the cursor of the whole subscription).
        self.seek_target: str | None = None
        self.tracker = SequenceTracker() if settings.verify else None
        schema = parse_schema_spec(settings.schema)
        #: With a record schema every payload is decoded (failures counted as "schema_decode")
        #: and the verification stamp is read from the decoded record.
        self.stamps = StampReader(schema) if decodes_records(schema) else None  # type: ignore[arg-type]
        self._rng = random.Random()
        self._delayed: deque[tuple[float, ReceivedMessage]] = deque()
        self._since_cumulative = 0
        self._last_unacked: ReceivedMessage | None = None
        self.consumer: EngineConsumer | None = None
        #: Set once `create_consumer` has returned (or failed): a listener can fire inside it,
        #: before `consumer` is known, and waits for this rather than dropping the message
        #: (a dropped message stays unacknowledged on this consumer until it closes).
        self._subscribed = threading.Event()
        #: A sample of received messages (at most one per PEEK_EVERY_S) for the messages panel.
        self.peek = MessagePeek(self.thread.name)
        # The client's redelivery counts by reason as last carried into the recorder.
        self._redeliveries_seen = RedeliveryCounts()
        self._redeliveries_due_ns = 0

    def run(self) -> None:
        s = self.settings
        self.slot.state = "connecting"
        listener = self._handle if s.mode == "listener" else None
        try:
            consumer = self.engine.create_consumer(s, self.name, listener=listener)
            self.consumer = self.handle = consumer
        finally:
            self._subscribed.set()
        self.slot.state = "running"
        batched = self._batch_path(consumer)
        receive_timeout_ms = int(IDLE_SLEEP_S * 5000)
        try:
            while not self.stop_event.is_set():
                if self.budget is not None and self.budget.exhausted:
                    break  # another worker took the last message of the budget
                if self.seek_target is not None:
                    target, self.seek_target = self.seek_target, None
                    consumer.seek(target)
                if self.paused or listener is not None:
                    # In listener mode the listener thread is the recorder's only writer.
                    self.slot.state = "paused" if self.paused else "running"
                    self.stop_event.wait(IDLE_SLEEP_S)
                    continue
                if batched:
                    batch = consumer.receive_many(RECEIVE_MANY_MAX, receive_timeout_ms)
                    if batch is not None and batch.count:
                        self._handle_many(consumer, batch)
                else:
                    msg = consumer.receive(receive_timeout_ms)
                    if msg is not None:
                        self._handle(msg)
                    self._ack_delayed(consumer)
                fill = self.slot.receiver_queue = consumer.queue_fill()
                if not fill:  # nothing waits to be taken: idle, not stalled
                    self.last_progress = self.clock()
                self._count_redeliveries(consumer)
        finally:
            self._ack_delayed(consumer, everything=True)
            if self._last_unacked is not None:
                consumer.acknowledge_cumulative(self._last_unacked)
            consumer.close()
            self._count_redeliveries(consumer, now=True)  # a listener has stopped too

    def _count_redeliveries(self, consumer: EngineConsumer, now: bool = False) -> None:
        """Carry what the client counted of its redeliveries by reason since the last look
        into this worker's recorder (at most every REDELIVERY_POLL_NS; one writer: the
        thread that also records received messages)."""
        t = time.monotonic_ns()
        if not now and t < self._redeliveries_due_ns:
            return
        self._redeliveries_due_ns = t + REDELIVERY_POLL_NS
        counts = engine_redelivery_counts(consumer)
        if counts is None or counts == self._redeliveries_seen:
            return
        self.slot.active.record_redelivery_reasons(counts - self._redeliveries_seen)
        self._redeliveries_seen = counts

    def _batch_path(self, consumer: EngineConsumer) -> bool:
        """Whether this worker takes whole batches (`_handle_many`): when nothing per message
        (a nack draw, processing time, a delayed or cumulative ack) needs the one-by-one path
        and the engine has `receive_many`."""
        s = self.settings
        return (
            s.mode != "listener"
            and s.ack in ("immediate", "grouped", "none")
            and not s.nack_ratio
            and not s.processing_ms
            and callable(getattr(consumer, "receive_many", None))
            and callable(getattr(consumer, "acknowledge_many", None))
        )

    def _handle_many(self, consumer: EngineConsumer, batch: ReceivedBatch) -> None:
        """What `_handle` does for each message of `batch`, per batch: counts and bytes once,
        end-to-end latency once per run of equal origins (`batch.e2e_runs`: the messages of
        one entry sent at one intended time, or with one publish time), one acknowledge call.
        Under a message budget only the messages the budget grants are handled (the rest go
        back to the broker when the consumer closes)."""
        budget = self.budget
        if budget is not None:
            granted = budget.take(batch.count)
            if granted < batch.count:
                batch = batch.head(granted)
            if budget.exhausted:
                self.stop_event.set()
            if not granted:
                return
        received_ns = time.time_ns()
        if received_ns >= self.peek.next_ns:
            self.peek.add(batch.messages[0], received_ns)
        rec = self.slot.active
        record_e2e = rec.record_e2e
        from_intended = 0
        for origin_ns, n, intended, step_ns in batch.e2e_runs:
            if step_ns:  # evenly spaced intended times: one latency each
                for k in range(n):
                    record_e2e(max(0, (received_ns - origin_ns - k * step_ns) // 1000))
            else:
                record_e2e(max(0, (received_ns - origin_ns) // 1000), n)
            if intended:
                from_intended += n
        count = batch.count
        rec.count_e2e_origin(from_intended, count - from_intended)
        rec.record_receive_batch(count, batch.n_bytes)
        if batch.redelivered:
            rec.record_redelivered(batch.redelivered)
        if self.stamps is not None and self.stamps.needs_key:
            for m in batch.messages:
                self._verify(rec, m.data, m.key)
        elif self.tracker is not None or self.stamps is not None:
            for data in batch.payloads():
                self._verify(rec, data)
        if self.settings.ack != "none":
            consumer.acknowledge_many(batch)
            rec.record_consumer_ack((time.time_ns() - received_ns) // 1000, count)
        del rec
        self.last_progress = self.clock()

    def _verify(self, rec: Recorder, data: bytes, key: str | None = None) -> None:
        """Check one payload's verification stamp (if it has one) against its producer's
        sequence, and count a duplicate or an out-of-order arrival. With a record schema the
        payload is decoded first; one that does not decode counts as a "schema_decode" error."""
        stamps = self.stamps
        if stamps is not None:
            try:
                value = stamps.decode(data, key)
            except (ValueError, TypeError):
                rec.record_failure("schema_decode")
                return
            if self.tracker is None:
                return
            stamp = stamps.stamp(value)
        else:
            stamp = parse_verify_header(data)
        if stamp is not None:
            outcome = self.tracker.see(*stamp)  # type: ignore[union-attr]
            if outcome == "duplicate":
                rec.record_duplicate()
            elif outcome == "out_of_order":
                rec.record_out_of_order()

    def _handle(self, msg: ReceivedMessage) -> None:
        """Per received message: record, verify, simulate processing, then ack per strategy."""
        s = self.settings
        consumer = self.consumer
        if consumer is None:  # the listener fired before create_consumer returned
            while not self._subscribed.wait(IDLE_SLEEP_S):
                if self.stop_event.is_set():
                    return
            consumer = self.consumer
            if consumer is None:  # subscribing failed; the run reports why
                return
        received_ns = time.time_ns()
        if received_ns >= self.peek.next_ns:
            self.peek.add(msg, received_ns)
        rec = self.slot.active
        rec.record_receive(
            len(msg.data),
            max(0, received_ns // 1000 - msg.e2e_origin_us),
            intended=bool(msg.intended_us),
        )
        if msg.redelivery_count:
            rec.record_redelivered()
        stamps = self.stamps
        if self.tracker is not None or stamps is not None:
            self._verify(
                rec, msg.data, msg.key if stamps is not None and stamps.needs_key else None
            )
        if s.processing_ms:
            time.sleep(s.processing_ms / 1000)
        self.last_progress = self.clock()
        if s.nack_ratio and self._rng.random() < s.nack_ratio:
            consumer.negative_acknowledge(msg)
            rec.record_nack()
            return
        self._ack(consumer, msg, received_ns)
        if s.mode == "listener":
            self._ack_delayed(consumer)
            self._count_redeliveries(consumer)
        if self.budget is not None:
            self.budget.take(1)
            if self.budget.exhausted:
                self.stop_event.set()

    def _ack(self, consumer: EngineConsumer, msg: ReceivedMessage, received_ns: int) -> None:
        strategy = self.settings.ack
        if strategy == "none":
            return
        if strategy == "delayed":
            self._delayed.append((self.clock() + self.settings.ack_delay_ms / 1000, msg))
            return
        if strategy == "cumulative":
            self._since_cumulative += 1
            self._last_unacked = msg
            if self._since_cumulative < CUMULATIVE_EVERY:
                return
            consumer.acknowledge_cumulative(msg)
            self._last_unacked = None
            self.slot.active.record_consumer_ack(
                (time.time_ns() - received_ns) // 1000, self._since_cumulative
            )
            self._since_cumulative = 0
            return
        consumer.acknowledge(msg)  # immediate, or grouped by the engine's ack grouping
        self.slot.active.record_consumer_ack((time.time_ns() - received_ns) // 1000)

    def _ack_delayed(self, consumer: EngineConsumer, everything: bool = False) -> None:
        delayed = self._delayed
        now = self.clock()
        while delayed and (everything or delayed[0][0] <= now):
            due, msg = delayed.popleft()
            consumer.acknowledge(msg)
            self.slot.active.record_consumer_ack(
                int((now - due) * 1e6 + self.settings.ack_delay_ms * 1000)
            )
