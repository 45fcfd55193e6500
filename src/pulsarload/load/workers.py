"""Producer and consumer worker threads.

Each worker owns its engine producer (or consumer), its rate schedule, its payload generator and
its metrics slot: nothing on the per-message path is shared with another worker. The pool steers
a worker by rebinding a few plain attributes (`rate`, `paused`, `seek_target`); the worker reads
them once per loop turn. Send completions may arrive on the client's I/O thread; they are only
queued there and recorded by the worker itself, so each recorder keeps a single writer.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from collections.abc import Mapping

from pulsarload.client.redeliveries import RedeliveryCounts
from pulsarload.client.schema import parse_schema_spec
from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.engines.base import (
    Engine,
    EngineConsumer,
    EngineProducer,
    ReceivedBatch,
    ReceivedMessage,
    engine_redelivery_counts,
)
from pulsarload.load.clock import Clock, nanoseconds
from pulsarload.load.held import Completion, HeldBatch, drain
from pulsarload.load.payloads import (
    KeyGenerator,
    PayloadGenerator,
    PayloadSettings,
    parse_verify_header,
)
from pulsarload.load.peek import MessagePeek
from pulsarload.load.rate import RateSchedule
from pulsarload.load.schema_payloads import SchemaPayloads, StampReader, decodes_records
from pulsarload.load.verify import SequenceTracker
from pulsarload.metrics.recorder import Recorder, RecorderSlot

IDLE_SLEEP_S = 0.02  # longest a worker sleeps before looking at its controls again
#: How often a consumer worker carries its client's redelivery counts into its recorder.
REDELIVERY_POLL_NS = 100_000_000
IDLE_SLEEP_NS = int(IDLE_SLEEP_S * 1e9)
#: Shortest sleep of a producer worker between takes: at rates above ~5,000 msg/s per worker a
#: wake takes every message that came due meanwhile (a send delay of at most this, plus the
#: OS's wake-up latency) instead of waking once per message.
MIN_SLEEP_NS = 200_000
UNBATCHED_CLAIM = 100  # messages claimed per loop turn when the engine does not batch
FLUSH_TIMEOUT_S = 10.0
CUMULATIVE_EVERY = 100  # the cumulative strategy acks every Nth message (and the last)
RECEIVE_MANY_MAX = 1000  # most messages a consumer worker takes from the engine per call


class MessageBudget:
    """A shared `-m/--messages` limit, taken per batch (never per message) under a lock."""

    def __init__(self, total: int) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self, wanted: int) -> int:
        with self._lock:
            granted = min(wanted, self._left)
            self._left -= granted
            return granted

    @property
    def exhausted(self) -> bool:
        return self._left <= 0


class Worker:
    """What both kinds share: the thread, the slot, and the controls the pool rebinds."""

    role = "worker"

    def __init__(
        self,
        index: int,
        engine: Engine,
        slot: RecorderSlot,
        name: str | None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`clock`: monotonic seconds (progress, delayed acks; a producer's schedule reads the
        same clock in nanoseconds)."""
        self.index = index
        self.clock = clock
        self.engine = engine
        self.slot = slot
        self.name = name
        self.paused = False
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.handle: EngineProducer | EngineConsumer | None = None  # set once created
        self.last_progress = clock()
        self.thread = threading.Thread(target=self._main, name=f"{self.role}-{index}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def _main(self) -> None:
        self.slot.bind_current_thread()
        if getattr(self.settings, "pin_cpus", False):
            self._pin_to_cpu()
        try:
            self.run()
        except BaseException as err:  # a worker must never die silently
            self.error = err
            self.slot.last_error = f"{type(err).__name__}: {err}"
            self.slot.state = "failed"
        finally:
            if self.slot.state != "failed":
                self.slot.state = "stopped"
            self.slot.closed = True

    def run(self) -> None:
        raise NotImplementedError

    def _pin_to_cpu(self) -> None:
        """Pin this worker's thread to one of the CPUs the process may use (Linux only)."""
        if not hasattr(os, "sched_setaffinity"):
            self.slot.last_error = "CPU pinning is not available on this OS"
            return
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[self.index % len(cpus)]})  # 0 = the calling thread

    def show_connection(self) -> None:
        """Called by the controller's thread (a worker may be blocked in a send during an
        outage): the slot's state says "reconnecting, attempt N" while the client reconnects."""
        probe = getattr(self.handle, "reconnect_attempt", None)
        if probe is None:
            return
        attempt = probe()
        state = self.slot.state
        if attempt:
            self.slot.state = f"reconnecting, attempt {attempt}"
        elif state.startswith("reconnecting"):
            self.slot.state = "paused" if self.paused else "running"


class ProducerWorker(Worker):
    role = "producer"

    def __init__(
        self,
        index: int,
        engine: Engine,
        slot: RecorderSlot,
        settings: ProduceSettings,
        *,
        rate: float,
        name: str | None = None,
        budget: MessageBudget | None = None,
        properties: Mapping[str, str] | None = None,
        verify_id: int | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(index, engine, slot, name, clock)
        self._now_ns = nanoseconds(clock)
        self.settings = settings
        self.rate = rate
        #: Message size now (the chaos scenario rebinds it; the worker resizes at its next turn).
        self.size = settings.size
        self.budget = budget
        self.properties = dict(properties or {})
        self.verify_id = verify_id
        self.sent = 0  # messages handed to the engine (for verification's expected counts)
        #: With --schema: the record maker, whose encode time the report shows.
        self.schema_payloads: SchemaPayloads | None = None
        self.finished_budget = False

    def run(self) -> None:
        s = self.settings
        schema = parse_schema_spec(s.schema)
        payloads: PayloadGenerator | SchemaPayloads
        if decodes_records(schema):
            assert schema is not None
            payloads = self.schema_payloads = SchemaPayloads(
                schema, s.size, verify_producer_id=self.verify_id
            )
        else:
            payloads = PayloadGenerator(
                PayloadSettings(
                    kind=s.payload,
                    size=s.size,
                    size_distribution=s.size_distribution,
                    size_max=s.size_max,
                    file=s.payload_file,
                    seed=None,
                ),
                verify_producer_id=self.verify_id,
            )
        keys = KeyGenerator(s.key_mode, s.keys)
        self.slot.state = "connecting"
        producer = self.engine.create_producer(s, self.name)
        self.handle = producer
        self.slot.state = "running"
        try:
            self._loop(producer, payloads, keys)
        finally:
            self.slot.state = "flushing"
            try:
                producer.flush(FLUSH_TIMEOUT_S)
            finally:
                producer.close()
                self._drain(self._completions)

    def _loop(
        self,
        producer: EngineProducer,
        payloads: PayloadGenerator | SchemaPayloads,
        keys: KeyGenerator,
    ) -> None:
        s = self.settings
        claim = s.batch_max_messages if s.batching else UNBATCHED_CLAIM
        linger_ns = int(s.batch_delay_ms * 1e6) if s.batching else 0
        completions: deque = deque()
        self._completions = completions
        now_ns = self._now_ns
        schedule = RateSchedule(self.rate, now_ns())
        applied_rate = self.rate
        was_paused = False
        held = HeldBatch()
        stop = self.stop_event
        slot = self.slot
        while not stop.is_set():
            if completions:
                self._drain(completions)
            if self.paused:
                if held.count:
                    self._send_held(producer, held, payloads, keys)
                if not was_paused:
                    was_paused, slot.state = True, "paused"
                stop.wait(IDLE_SLEEP_S)
                continue
            now = now_ns()
            if was_paused:
                was_paused, slot.state = False, "running"
                schedule.restart(now)
            if self.size != payloads.settings.size:
                payloads.resize(self.size)
            if self.rate != applied_rate:
                if held.count:  # a held batch covers consecutive places of one schedule
                    self._send_held(producer, held, payloads, keys)
                applied_rate = self.rate
                schedule.set_rate(applied_rate, now)
            due = schedule.take_due(now, claim - held.count)
            if due.count:
                count = due.count
                if self.budget is not None:
                    count = self.budget.take(count)
                if count:
                    # Taken now: this is the messages' actual send time (into the worker's
                    # batch when batching), so their send delay is final here.
                    rec = slot.active
                    if due.interval_ns:
                        for i in range(count):
                            rec.record_send_delay(
                                (now - due.first_ns - int(i * due.interval_ns)) // 1000
                            )
                    else:
                        rec.record_send_delay((now - due.first_ns) // 1000, count)
                    del rec  # the sampler harvests a recorder only once nobody holds it
                    held.add(due, count, now, linger_ns)
                if count < due.count:  # the message budget ran out
                    if held.count:
                        self._send_held(producer, held, payloads, keys)
                    self.finished_budget = True
                    slot.state = "done"
                    return
            if held.count and (
                not linger_ns or held.count >= claim or now >= held.deadline_ns or not applied_rate
            ):
                self._send_held(producer, held, payloads, keys)
                continue
            # Sleep until the next message is due (or the held batch's delay is up), but not
            # shorter than MIN_SLEEP_NS: at high rates a wake takes the few messages that came
            # due meanwhile, instead of spinning.
            wake = schedule.next_due_ns() if applied_rate else now
            if held.count:
                wake = min(wake, held.deadline_ns)
            wait_ns = min(max(wake - now_ns(), MIN_SLEEP_NS), IDLE_SLEEP_NS)
            stop.wait(wait_ns / 1e9)
        if held.count:
            self._send_held(producer, held, payloads, keys)

    def _send_held(
        self,
        producer: EngineProducer,
        held: HeldBatch,
        payloads: PayloadGenerator | SchemaPayloads,
        keys: KeyGenerator,
    ) -> None:
        """Hand the held batch to the engine in one call (one per message with keys), stamped
        with the intended send time of its first message on this host's wall clock."""
        count = held.count
        batch = payloads.next_batch(count)
        rec = self.slot.active
        rec.record_send_batch(count, sum(map(len, batch)))
        del rec
        done = Completion(self._completions, held, self._now_ns)
        wall_ns = time.time_ns() - self._now_ns() + held.first_ns
        props = self.properties or None
        interval = held.interval_ns
        key_bytes = payloads.last_keys if isinstance(payloads, SchemaPayloads) else None
        if key_bytes is not None:  # KEY_VALUE SEPARATED: each message's key is its encoded key
            for i, (payload, kb) in enumerate(zip(batch, key_bytes, strict=True)):
                producer.send_batch(
                    [payload],
                    done,
                    key_bytes=kb,
                    properties=props,
                    intended_ns=wall_ns + int(i * interval),
                )
        elif keys.mode != "none":
            for i, payload in enumerate(batch):
                producer.send_batch(
                    [payload],
                    done,
                    key=keys.next_key(),
                    properties=props,
                    intended_ns=wall_ns + int(i * interval),
                )
        else:
            producer.send_batch(
                batch, done, properties=props, intended_ns=wall_ns, interval_ns=interval
            )
        held.clear()
        self.sent += count
        if not self.slot.pending_sends:  # waiting for acks starts now (a stall counts from it)
            self.last_progress = self.clock()
        self.slot.pending_sends = producer.pending()

    def _drain(self, completions: deque) -> None:
        error = drain(completions, self.slot.active)
        if error is not None:
            self.slot.last_error = error
        else:  # acks arrived: progress
            self.last_progress = self.clock()
        if self.handle is not None:
            self.slot.pending_sends = self.handle.pending()  # type: ignore[union-attr]


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
        #: A sample of received messages (at most one per PEEK_EVERY_S) for the messages panel.
        self.peek = MessagePeek(self.thread.name)
        # The client's redelivery counts by reason as last carried into the recorder.
        self._redeliveries_seen = RedeliveryCounts()
        self._redeliveries_due_ns = 0

    def run(self) -> None:
        s = self.settings
        self.slot.state = "connecting"
        listener = self._handle if s.mode == "listener" else None
        consumer = self.engine.create_consumer(s, self.name, listener=listener)
        self.consumer = self.handle = consumer
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
        if consumer is None:  # listener fired before create_consumer returned
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
