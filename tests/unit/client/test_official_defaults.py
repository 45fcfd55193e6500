"""The native client's defaults mirror the official Python client's, and every difference is
known and documented (docs/client.md, "Known differences from the official client").

The official signatures are read from Apache's `pulsar-client` in the GIL build's venv (it has
no free-threaded build), in a subprocess; without that venv the test is skipped with the reason.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from pulsarload.client import Client

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "client.md"

#: Defaults that differ on purpose, each explained in docs/client.md.
KNOWN_DIFFERENCES = {
    ("create_producer", "schema"),  # None means bytes, as BytesSchema() does
    ("subscribe", "schema"),
    ("create_reader", "schema"),
}

_DUMP = r"""
import enum, inspect, json, pulsar

def plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    name = getattr(v, "name", None)
    if isinstance(name, str):
        return name
    return "<" + type(v).__name__ + ">"

out = {}
for fn in ("__init__", "create_producer", "subscribe", "create_reader"):
    sig = inspect.signature(getattr(pulsar.Client, fn))
    out[fn] = {
        n: plain(p.default)
        for n, p in sig.parameters.items()
        if p.default is not inspect.Parameter.empty
    }
print(json.dumps(out))
"""


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if value is None or isinstance(value, bool | int | float | str):
        return value
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else f"<{type(value).__name__}>"


def _ours() -> dict[str, dict[str, Any]]:
    fns = {
        "__init__": Client.__init__,
        "create_producer": Client.create_producer,
        "subscribe": Client.subscribe,
        "create_reader": Client.create_reader,
    }
    return {
        name: {
            n: _plain(p.default)
            for n, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        for name, fn in fns.items()
    }


def _official() -> dict[str, dict[str, Any]]:
    py = Path(os.environ.get("PULSARLOAD_OFFICIAL_PYTHON") or REPO / ".venv-gil" / "bin" / "python")
    if not py.exists():
        pytest.skip(f"{py} does not exist (make setup builds .venv-gil with pulsar-client)")
    proc = subprocess.run(
        [str(py), "-c", _DUMP], capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    if proc.returncode != 0:
        pytest.skip(f"official client unavailable: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_defaults_mirror_the_official_client() -> None:
    official, ours = _official(), _ours()
    differ = {}
    for fn, params in official.items():
        for name, value in params.items():
            if name in ours[fn] and ours[fn][name] != value:
                differ[(fn, name)] = (ours[fn][name], value)
    unexplained = {k: v for k, v in differ.items() if k not in KNOWN_DIFFERENCES}
    assert not unexplained, f"defaults that differ from the official client: {unexplained}"
    stale = KNOWN_DIFFERENCES - set(differ)
    assert not stale, f"listed as different but now the same: {sorted(stale)}"


def test_every_known_difference_is_documented() -> None:
    text = DOC.read_text()
    assert "## Known differences from the official client" in text
    section = text.split("## Known differences from the official client", 1)[1]
    for _fn, name in sorted(KNOWN_DIFFERENCES):
        assert f"`{name}`" in section, f"{name} is not explained in {DOC.name}"
