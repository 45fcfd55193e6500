"""Run one compatibility scenario in this interpreter and print its JSON result.

    python runner.py CLIENT MODULE:FUNCTION JSON-ENV

CLIENT is ``official`` (Apache's ``pulsar-client``: ``import pulsar``, GIL build only) or
``native`` (``import pulsarload.client as pulsar``). The scenario is called as
``FUNCTION(pulsar, env)`` with the client module bound to the name the official examples use,
so one scenario body is the same program for both clients. It returns plain JSON data.

The official client's C++ logger writes to stdout; fd 1 is pointed at stderr while the
scenario runs, and the result goes to the real stdout as the last line, after `RESULT_MARKER`.
The process ends with `os._exit`, so a client thread left running cannot hang the exit
(scenarios that care about threads list them before returning).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any

RESULT_MARKER = "@@COMPAT-RESULT@@ "
HERE = Path(__file__).resolve().parent


class Env:
    """What a scenario gets besides the client module: where the broker is, fresh names."""

    def __init__(self, client: str, values: dict[str, Any]) -> None:
        self.client = client
        self.service_url: str = values["service_url"]
        self.admin_url: str = values["admin_url"]
        self.args: dict[str, Any] = values.get("args", {})
        self._tag: str = values.get("tag", "compat")

    def topic(
        self, prefix: str = "t", *, domain: str = "persistent", ns: str = "public/default"
    ) -> str:
        """A fresh topic name, unique per call (and per client: the prefix names the client)."""
        return f"{domain}://{ns}/{self._tag}-{self.client[:3]}-{prefix}-{uuid.uuid4().hex[:10]}"

    def name(self, prefix: str = "n") -> str:
        """A fresh subscription or producer name."""
        return f"{prefix}-{uuid.uuid4().hex[:8]}"


def load_client(client: str) -> Any:
    if client == "official":
        return importlib.import_module("pulsar")
    if client == "native":
        return importlib.import_module("pulsarload.client")
    raise SystemExit(f"runner: CLIENT must be 'official' or 'native', not {client!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or ":" not in argv[1]:
        print("usage: runner.py official|native MODULE:FUNCTION JSON-ENV", file=sys.stderr)
        return 2
    client, target, raw = argv
    module_name, func_name = target.split(":", 1)
    real_stdout = os.dup(1)
    os.dup2(2, 1)  # the C++ client's log lines go to stderr
    sys.path.insert(0, str(HERE))
    try:
        pulsar = load_client(client)
        func = getattr(importlib.import_module(module_name), func_name)
        result = func(pulsar, Env(client, json.loads(raw)))
        line = RESULT_MARKER + json.dumps(result, default=repr) + "\n"
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(real_stdout, line.encode())
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
