"""`ProducerWorker`: one producer thread, sending on its rate schedule and timing each message
from its intended send time (see docs/design.md, "One message, end to end")."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping

from pulsarload.client.schema import parse_schema_spec
from pulsarload.config import ProduceSettings
from pulsarload.engines.base import (
    Engine,
    EngineProducer,
)
from pulsarload.load.clock import Clock, nanoseconds
from pulsarload.load.held import Completion, HeldBatch, drain
from pulsarload.load.payloads import (
    KeyGenerator,
    PayloadGenerator,
    PayloadSettings,
)
from pulsarload.load.rate import RateSchedule
from pulsarload.load.schema_payloads import SchemaPayloads, decodes_records
from pulsarload.load.workers import IDLE_SLEEP_S, MessageBudget, Worker
from pulsarload.metrics.recorder import RecorderSlot

IDLE_SLEEP_NS = int(IDLE_SLEEP_S * 1e9)
#: Shortest sleep of a producer worker between takes: at rates above ~5,000 msg/s per worker a
#: wake takes every message that came due meanwhile (a send delay of at most this, plus the
#: OS's wake-up latency) instead of waking once per message.
MIN_SLEEP_NS = 200_000
UNBATCHED_CLAIM = 100  # messages claimed per loop turn when the engine does not batch
FLUSH_TIMEOUT_S = 10.0


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
