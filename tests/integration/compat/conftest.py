"""The compatibility harness: one scenario body, run by Apache's client and by ours.

A scenario is a function ``name(pulsar, env)`` in a ``scenarios_*.py`` module of this folder,
written as a program for the official ``pulsar-client`` (its import is the only thing that
changes). `compat` is parametrized over the two clients; each run is a subprocess of that
client's interpreter (``official``: the GIL build's ``.venv-gil``; ``native``: this interpreter)
started by `runner.py`, with a timeout. A test asserts the outcome it expects for each client;
`compat_both` runs both so a test can assert that their outcomes are equal.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
RESULT_MARKER = "@@COMPAT-RESULT@@ "
CLIENTS = ("official", "native")
#: Longest one scenario process may take (a scenario's own waits are far shorter).
DEFAULT_TIMEOUT = 120.0


def official_python() -> Path:
    return Path(
        os.environ.get("PULSARLOAD_OFFICIAL_PYTHON") or REPO / ".venv-gil" / "bin" / "python"
    )


def _python(client: str) -> Path:
    return official_python() if client == "official" else Path(sys.executable)


_unavailable_cache: dict[str, str | None] = {}


def official_unavailable() -> str | None:
    """Why the official client cannot run here, or None."""
    if "reason" not in _unavailable_cache:
        py = official_python()
        reason: str | None = None
        if not py.exists():
            reason = f"{py} does not exist (make setup builds .venv-gil with pulsar-client)"
        else:
            try:
                proc = subprocess.run(
                    [str(py), "-c", "import pulsar"], capture_output=True, text=True, timeout=60
                )
                if proc.returncode != 0:
                    reason = f"{py} cannot import pulsar: {proc.stderr.strip()[-300:]}"
            except (OSError, subprocess.TimeoutExpired) as err:
                reason = f"{py} cannot run: {err}"
        _unavailable_cache["reason"] = reason
    return _unavailable_cache["reason"]


def _env() -> dict[str, str]:
    """This process's environment, with our sources first and no HTTP proxy in the way."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("PYTHON_GIL", None)
    paths = [str(REPO / "src"), str(HERE)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


class ScenarioFailed(AssertionError):
    """A scenario process exited non-zero, timed out, or printed no result."""


@dataclass
class CompatClient:
    """One client (``official`` or ``native``) and the broker its scenarios run against."""

    name: str
    service_url: str
    admin_url: str
    tag: str = "compat"
    extra: dict[str, Any] = field(default_factory=dict)

    def run(self, scenario: str, *, timeout: float = DEFAULT_TIMEOUT, **args: Any) -> Any:
        """Run ``module:function`` with `args` (JSON data) in this client's interpreter."""
        if self.name == "official" and (reason := official_unavailable()):
            pytest.skip(f"official client unavailable: {reason}")
        payload = {
            "service_url": args.pop("service_url", self.service_url),
            "admin_url": args.pop("admin_url", self.admin_url),
            "tag": self.tag,
            "args": {**self.extra, **args},
        }
        cmd = [str(_python(self.name)), str(HERE / "runner.py"), self.name, scenario,
               json.dumps(payload)]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=timeout, env=_env(), cwd=str(REPO))  # fmt: skip
        except subprocess.TimeoutExpired as err:
            tail = (err.stderr or b"")[-3000:]
            raise ScenarioFailed(
                f"{self.name} {scenario}: no result in {timeout:.0f} s\n{tail!r}"
            ) from None
        if proc.returncode != 0:
            raise ScenarioFailed(
                f"{self.name} {scenario} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
            )
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(RESULT_MARKER):
                return json.loads(line[len(RESULT_MARKER) :])
        raise ScenarioFailed(f"{self.name} {scenario} printed no result:\n{proc.stderr[-3000:]}")


def _tag(request: pytest.FixtureRequest) -> str:
    return request.node.originalname.removeprefix("test_").replace("_", "")[:20] or "compat"


@pytest.fixture(params=CLIENTS)
def compat(request: pytest.FixtureRequest, broker: Any) -> Iterator[CompatClient]:
    """Each client in turn; the test body is the same for both."""
    yield CompatClient(request.param, broker.service_url, broker.admin_url, _tag(request))


@dataclass
class Both:
    """Both clients, for tests that assert that their outcomes are equal."""

    clients: dict[str, CompatClient]

    def run(self, scenario: str, **kwargs: Any) -> dict[str, Any]:
        """The scenario's result per client (official first)."""
        return {name: c.run(scenario, **kwargs) for name, c in self.clients.items()}


@pytest.fixture
def compat_both(request: pytest.FixtureRequest, broker: Any) -> Both:
    tag = _tag(request)
    return Both({n: CompatClient(n, broker.service_url, broker.admin_url, tag) for n in CLIENTS})


@pytest.fixture
def make_partitioned(broker: Any) -> Iterator[Any]:
    """A factory of fresh partitioned topics (made over the admin API, deleted afterwards)."""
    import uuid

    from pulsarload.client.admin import AdminClient

    made: list[str] = []
    admin = AdminClient(broker.admin_url)

    def make(partitions: int = 3, prefix: str = "part") -> str:
        topic = f"persistent://public/default/compat-{prefix}-{uuid.uuid4().hex[:10]}"
        admin.create_partitioned_topic(topic, partitions)
        made.append(topic)
        return topic

    yield make
    for topic in made:
        with contextlib.suppress(Exception):  # best effort: a consumer may still be attached
            admin.delete_topic(topic, partitioned=True)
    admin.close()
