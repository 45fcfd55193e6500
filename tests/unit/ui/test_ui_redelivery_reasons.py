"""The consumer's figures panel names the reasons its messages were redelivered (those that
occurred), or says "n/a" where the engine's client does not say why."""

from __future__ import annotations

from dataclasses import replace

from pulsarload.metrics.snapshot import Counters
from pulsarload.ui.fixed import FixedController
from pulsarload.ui.view import DashboardView, ErrorTally, TargetHistory, collect
from pulsarload.ui.widgets.facts import facts_for


def consumer_view(engine: str = "native") -> DashboardView:
    controller = FixedController("consumer")
    controller.settings = replace(controller.settings, engine=engine)
    return collect(controller, controller.sampler.latest, TargetHistory(), ErrorTally())


def reason_facts(view: DashboardView) -> dict[str, str]:
    return {f.label: f.value for f in facts_for(view) if f.label.startswith("↻")}


def test_the_reasons_that_occurred_are_shown_with_their_counts():
    view = consumer_view()
    t = view.total
    assert view.redelivery_reasons
    assert reason_facts(view) == {
        "↻ nack": f"{t.redelivered_negative_ack:,}",
        "↻ reconn": f"{t.redelivered_reconnect:,}",
    }
    view = replace(view, total=replace(t, redelivered_seek=5, redelivered_requested=1))
    assert reason_facts(view) == {
        "↻ nack": f"{t.redelivered_negative_ack:,}",
        "↻ reconn": f"{t.redelivered_reconnect:,}",
        "↻ seek": "5",
        "↻ asked": "1",
    }


def test_an_engine_that_does_not_say_why_shows_na_once_something_came_again():
    view = consumer_view("official")
    assert not view.redelivery_reasons
    assert reason_facts(view) == {"↻ why": "n/a"}
    assert reason_facts(replace(view, total=Counters())) == {}


def test_no_redeliveries_no_reason_facts():
    assert reason_facts(replace(consumer_view(), total=Counters())) == {}
