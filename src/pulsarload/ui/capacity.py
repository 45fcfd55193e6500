"""`pulsarload capacity` with the producer dashboard: the search runs in a thread of its own and
steers the load; the dashboard shows the load as ever, plus a panel with the search's state.

Quitting (q, ctrl+c) stops the search: the step under way is dropped, the search closes the
workers and writes its report, then the dashboard leaves and the lines it printed follow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual import work

from pulsarload.load.capacity.live import LiveSearch
from pulsarload.load.capacity.local import EXIT_INTERRUPTED
from pulsarload.load.capacity.run import SearchDriver
from pulsarload.ui.app import ProducerApp
from pulsarload.ui.widgets.capacity import CapacityPanel

#: Longest the dashboard waits for the search to close its workers after a quit.
STOP_WAIT_S = 120.0
#: Longest the start may take before the dashboard opens (shards on a busy cluster are slow).
START_WAIT_S = 600.0

Runner = Callable[..., int]  # run_capacity or run_cluster_capacity


class CapacityApp(ProducerApp):
    """The producer dashboard with the search panel on top; the search owns the workers."""

    def __init__(
        self,
        controller: Any,
        live: Callable[[], LiveSearch | None],
        *,
        search_stop: threading.Event,
        search_done: threading.Event,
        **kwargs: Any,
    ) -> None:
        super().__init__(controller, **kwargs)
        self.title = "pulsarload capacity"
        self._live = live
        self._search_stop = search_stop
        self._search_done = search_done

    def _start(self) -> None:
        super()._start()
        self.dashboard.query_one("#main").mount(
            CapacityPanel(self._live, id="capacity"),
            before=self.dashboard.query_one("#row-top"),
        )
        self.set_interval(0.5, self._check_done)

    def _check_done(self) -> None:
        if self._search_done.is_set() and not self._stopping:
            self.say("the search is over", "ok")
            self.action_quit()

    def action_quit(self) -> None:  # type: ignore[override]
        """Stop the search (it stops the workers and writes the report), then leave."""
        if self._stopping:
            return
        self._stopping = True
        self._search_stop.set()
        self.say("stopping the search: closing the workers, writing the report…")
        self.stop_started.set()
        self._wait_for_search()

    @work(thread=True, group="stop", exit_on_error=False)
    def _wait_for_search(self) -> None:
        self._search_done.wait(STOP_WAIT_S)
        self.stop_finished.set()
        self.call_from_thread(self.exit, None)


class SearchThread:
    """The search in a thread of its own, its printed lines kept for after the dashboard."""

    def __init__(self, settings: Any, runner: Runner) -> None:
        self.settings, self.runner = settings, runner
        self.lines: list[str] = []
        self.ready, self.done = threading.Event(), threading.Event()
        self.driver: SearchDriver | None = None
        self.code: int | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="capacity-search", daemon=True)

    def _on_driver(self, driver: SearchDriver) -> None:
        self.driver = driver
        self.ready.set()

    def _run(self) -> None:
        try:
            self.code = self.runner(
                self.settings, echo=self.lines.append, on_driver=self._on_driver
            )
        except BaseException as err:  # noqa: BLE001 - raised again by finish()
            self.error = err
        finally:
            self.done.set()
            self.ready.set()

    def start(self, timeout: float = START_WAIT_S) -> SearchDriver | None:
        """Start the search; the driver once the load runs (None: it ended before that)."""
        self._thread.start()
        self.ready.wait(timeout)
        return None if self.done.is_set() else self.driver

    def app(self, **kwargs: Any) -> CapacityApp:
        driver = self.driver
        assert driver is not None
        return CapacityApp(
            driver.producer, driver.live, search_stop=driver.stop, search_done=self.done, **kwargs
        )

    def finish(self, echo: Callable[[str], None]) -> int:
        """Stop the search if it still runs, wait for it, print its lines; its exit code."""
        if self.driver is not None:
            self.driver.stop.set()
        self.done.wait(STOP_WAIT_S)
        for line in self.lines:
            echo(line)
        if self.error is not None:
            raise self.error
        return EXIT_INTERRUPTED if self.code is None else self.code


def run_capacity_dashboard(settings: Any, runner: Runner, echo: Callable[[str], None]) -> int:
    """Run the search in a thread, the dashboard here; print the search's lines afterwards."""
    search = SearchThread(settings, runner)
    if search.start() is not None:
        try:
            search.app().run()
        finally:
            if search.driver is not None:
                search.driver.stop.set()
    return search.finish(echo)
