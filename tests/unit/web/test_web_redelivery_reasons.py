"""A consumer's frame carries its redeliveries by reason, or null where the engine's client
does not say why; a producer's frame carries none."""

from __future__ import annotations

import dataclasses

from web_fake import FakeController

from pulsarload.client import RedeliveryCounts
from pulsarload.web.page_frames import ControlState, FrameBuilder

CONTROL = ControlState(state="running", threads=1, target=None, base_rate=None)


def frame_for(role: str, engine: str) -> dict:
    controller = FakeController(role)
    slot = controller.sampler.new_slot("w0")
    slot.active.record_redelivered(4)
    slot.active.record_redelivery_reasons(RedeliveryCounts(negative_ack=3, seek=1))
    snap = controller.tick()
    snap = dataclasses.replace(snap, labels={"role": role, "engine": engine})
    return FrameBuilder(role).frame(snap, CONTROL)[0]


def test_a_native_consumer_frame_has_the_counts_by_reason():
    f = frame_for("consumer", "native")
    assert f["total"]["redelivered"] == 4
    assert f["redelivered_by_reason"] == {
        "negative_ack": 3,
        "ack_timeout": 0,
        "reconnect": 0,
        "seek": 1,
        "requested": 0,
    }


def test_an_official_consumer_frame_says_not_known_and_a_producer_frame_nothing():
    assert frame_for("consumer", "official")["redelivered_by_reason"] is None
    assert frame_for("producer", "native")["redelivered_by_reason"] is None
