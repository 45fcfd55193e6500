"""Console-script entry points (`pulsarload`, `pulsar-producer`, `pulsar-consumer`).

They import the command line inside a KeyboardInterrupt guard: importing it takes a few tenths
of a second, and a Ctrl-C in that window should end the program as quietly as one a moment
later does (exit 130), not with a traceback through the import machinery.
"""

from __future__ import annotations

import sys


def _guarded(name: str) -> None:
    try:
        from pulsarload import cli
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    getattr(cli, name)()


def main() -> None:
    _guarded("main")


def producer_main() -> None:
    _guarded("producer_main")


def consumer_main() -> None:
    _guarded("consumer_main")
