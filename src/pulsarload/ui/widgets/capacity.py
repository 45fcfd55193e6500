"""The capacity search panel: the step under way, its target and stage, the bracket so far
and the last verdict. It reads an immutable `LiveSearch` from a source it polls (the search
runs in its own thread); it never steers the search."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from pulsarload.load.capacity.live import LiveSearch

POLL_S = 0.5


class CapacityPanel(Static):
    """Three lines: the step and its progress; the bracket; the last finished step."""

    DEFAULT_CSS = """
    CapacityPanel {
        height: 5;
        border: round $accent;
        border-title-color: $accent;
        padding: 0 1;
    }
    """

    def __init__(self, source: Callable[[], LiveSearch | None], **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.source = source
        self.border_title = "capacity search"
        self.live: LiveSearch | None = None

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(POLL_S, self.poll)

    def poll(self) -> None:
        self.live = self.source()
        self.update(self.text())

    def text(self) -> Text:
        live = self.live
        out = Text()
        if live is None:
            out.append("starting the load…", style="dim")
            return out
        if live.target is None:
            out.append(live.between_steps(), "bold")
        else:
            shown = min(live.stage_elapsed_s, live.stage_length_s or live.stage_elapsed_s)
            out.append(f"step {live.index} ", "bold")
            out.append(f"{live.phase}  ")
            out.append(f"target {live.target:,} msg/s", "bold")
            out.append(f"  {live.stage} {shown:.0f}/{live.stage_length_s:.0f} s")
        out.append("\n")
        out.append("passes ", "dim")
        out.append(f"{live.passing:,}" if live.passing is not None else "-", "green")
        out.append("   fails ", "dim")
        out.append(f"{live.failing:,}" if live.failing is not None else "-", "red")
        if live.passing and live.failing:
            gap = (live.failing - live.passing) / live.passing
            out.append(f"   {gap:.1%} apart (to {live.resolution:.1%})", "dim")
        out.append(f"   {live.passed} passed · {live.failed} failed")
        out.append("\n")
        last = live.last
        if last is not None:
            verdict = "PASS" if last.passed else "FAIL"
            out.append(f"last: step {last.index} {last.target:,.0f} msg/s → ", "dim")
            out.append(verdict, "bold green" if last.passed else "bold red")
            out.append(
                f"  achieved {last.achieved:,.0f}, p99 {last.p99_ms:.1f} ms"
                + (f" ({'; '.join(last.failed_because)})" if last.failed_because else "")
            )
        return out
