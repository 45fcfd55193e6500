"""Bad input of every kind gets one clear line, a non-zero exit, no traceback, nothing
half-written. The table in docs/reliability.md lists the same cases with what the user sees.

Most cases run the CLI in this process (`pulsarload.cli.main`, which exits like the real
command; an uncaught exception would fail the test with its traceback), a few through a real
interpreter. Runs point at the session broker; the broker-side errors (topic not found,
terminated, quota exceeded, consumer busy) are set up through the admin API first. Not
authorized and TLS errors are in test_security.py, an unreachable or silent broker in
test_faults_network.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulsarload.cli import main
from pulsarload.client import Client, PulsarError

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

T = "persistent://public/default/bad-input"
RUN = ["--headless", "-m", "5", "-d", "5"]


@dataclass(frozen=True)
class Case:
    args: list[str]
    expect: str  # a regex the error line must match
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str | None] = field(default_factory=dict)  # name -> text (None: a dir)


CASES: dict[str, Case] = {
    # --- flags
    "unknown flag": Case(["produce", T, "--bogus"], r"No such option '--bogus'"),
    "rate not a number": Case(["produce", T, "-r", "abc"], r"'abc' is not a valid float"),
    "negative rate": Case(["produce", T, *RUN, "-r", "-5"], r"rate=-5.0 is out of range 0\.\.inf"),
    "too many threads": Case(["produce", T, *RUN, "-t", "2000"], r"threads=2000 is out of range"),
    "unknown compression": Case(["produce", T, "-z", "brotli"], r"'brotli' is not one of"),
    "negative size": Case(["produce", T, *RUN, "-s", "-1"], r"size=-1 is out of range"),
    "negative duration": Case(["produce", T, "--headless", "-d", "-1"], r"duration_s=-1.0 is out"),
    "max threads 0": Case(["produce", T, *RUN, "--max-threads", "0"], r"max_threads=0 is out"),
    "headless with no threads": Case(
        ["produce", T, "--headless", "-t", "0"], r"--threads 0 in a headless run"
    ),
    "connections 0": Case(["produce", T, *RUN, "--connections", "0"], r"connections_per_broker=0"),
    "threshold syntax": Case(
        ["produce", T, *RUN, "--threshold", "p99_ms<"], r"not of the form METRIC<OP>NUMBER"
    ),
    "threshold metric": Case(
        ["produce", T, *RUN, "--threshold", "latency<5"], r"unknown metric 'latency'"
    ),
    "property without =": Case(["produce", T, *RUN, "--property", "novalue"], r"KEY=VALUE"),
    "key set without keys": Case(["produce", T, *RUN, "--key-mode", "set"], r"at least one key"),
    "official engine on 3.13t": Case(
        ["produce", T, *RUN, "--engine", "official"], r"official engine needs .*pulsar-client"
    ),
    "service URL scheme": Case(
        ["produce", T, *RUN, "-u", "ftp://localhost:6650"], r"unsupported scheme 'ftp'"
    ),
    "service URL port": Case(
        ["produce", T, *RUN, "-u", "pulsar://localhost:99999"], r"port 99999 is out of range"
    ),
    "service URL is the HTTP port": Case(
        ["produce", T, *RUN, "-u", "{admin_as_pulsar}", "--connect-timeout", "2"],
        r"bad handshake reply",
    ),
    "service URL without scheme": Case(
        ["produce", T, *RUN, "-u", "localhost:6650"], r"^pulsarload: error: service_url: 'localhost:6650' has no scheme; use pulsar://host:6650 or pulsar\+ssl://$"
    ),
    "admin URL without scheme": Case(
        ["consume", T, *RUN, "--admin-url", "localhost:8080"], r"admin_url='localhost:8080' must start with http://"
    ),
    "admin URL is the binary port": Case(
        ["produce", T + "-p", *RUN, "--partitions", "2", "--admin-url", "{service_as_http}"],
        r"admin API .* unreachable",
    ),
    # --- topics, regexes, seek targets
    "topic without local name": Case(
        ["produce", "persistent://public/default", *RUN], r"must look like persistent://"
    ),
    "topic domain": Case(["produce", "foo://public/default/t", *RUN], r"unknown domain 'foo'"),
    "empty subscription": Case(["consume", T, *RUN, "--subscription", ""], r"non-empty string"),
    "regex does not compile": Case(
        ["consume", *RUN, "--pattern", "persistent://public/default/(x"], r"bad regex"
    ),
    "seek target": Case(["consume", T, *RUN, "--seek", "yesterday"], r"seek: 'yesterday' is not"),
    # --- files
    "payload file missing": Case(
        ["produce", T, *RUN, "--payload", "file", "--payload-file", "{tmp}/nope.txt"],
        r"cannot read payload file .*No such file",
    ),
    "payload file is a directory": Case(
        ["produce", T, *RUN, "--payload", "file", "--payload-file", "{tmp}/adir"],
        r"Is a directory",
        files={"adir": None},
    ),
    "payload file empty": Case(
        ["produce", T, *RUN, "--payload", "file", "--payload-file", "{tmp}/empty.txt"],
        r"has no messages",
        files={"empty.txt": ""},
    ),
    "payload kind file without a file": Case(
        ["produce", T, *RUN, "--payload", "file"], r"needs a file path"
    ),
    "report folder cannot be made": Case(
        ["produce", T, *RUN, "--report", "/proc/nope/r.json"], r"--report .* cannot create"
    ),
    "report is a directory": Case(["produce", T, *RUN, "--report", "{tmp}"], r"is a directory"),
    "report names a new directory": Case(
        ["produce", T, *RUN, "--report", "{tmp}/new/"], r"--report .*/new/ ends with '/', a directory; give a file name"
    ),
    "report under a file": Case(
        ["produce", T, *RUN, "--report", "{tmp}/afile/r.json"], r"afile is a file, not a directory",
        files={"afile": "x"},
    ),
    "export dir is a file": Case(
        ["produce", T, *RUN, "--export-dir", "{tmp}/afile"], r"afile is a file, not a directory",
        files={"afile": "x"},
    ),
    "prometheus address not here": Case(
        ["produce", T, *RUN, "--prometheus-port", "9179", "--prometheus-addr", "192.0.2.1"],
        r"--prometheus-port 9179: cannot listen on 192.0.2.1:9179 \(Cannot assign requested address\)",
    ),
    # --- without a terminal, and compare (checked once, before any run)
    "dashboard without a terminal": Case(
        ["produce", T, "-m", "5", "-d", "1"], r"the dashboard needs a terminal .*add --headless"
    ),
    "compare with a bad rate": Case(["compare", T, "-r", "-5", "-d", "1"], r"rate=-5.0 is out of range"),
    "compare with a bad threshold": Case(
        ["compare", T, "-d", "1", "--threshold", "p99<5"], r"unknown metric 'p99'"
    ),
    "compare with a bad flag value": Case(
        ["compare", T, "-z", "brotli"], r"'brotli' is not one of .*see 'pulsarload produce --help'"
    ),
    "histogram log folder": Case(
        ["produce", T, *RUN, "--histogram-log", "/proc/nope/h.hlog"], r"--histogram-log"
    ),
    "export dir cannot be made": Case(
        ["produce", T, *RUN, "--export-dir", "/proc/nope"], r"--export-dir .* cannot create"
    ),
    "verify-against missing": Case(
        ["consume", T, *RUN, "--verify", "--verify-against", "{tmp}/nope.json"],
        r"--verify-against .* no such readable file",
    ),
    # --- environment
    "env number": Case(["produce", T, *RUN], r"PULSARLOAD_RATE\): expected a number", {"PULSARLOAD_RATE": "abc"}),
    "env bool": Case(["produce", T, *RUN], r"expected true or false, got 'maybe'", {"PULSARLOAD_VERIFY": "maybe"}),
    "env range": Case(["produce", T, *RUN], r"threads=-1 is out of range", {"PULSARLOAD_THREADS": "-1"}),
    "env choice": Case(["produce", T, *RUN], r"engine='bogus' is not allowed", {"PULSARLOAD_ENGINE": "bogus"}),
    "env broker URL": Case(
        ["produce", T, "--headless", "-m", "5"], r"'garbage' has no scheme",
        {"PULSAR_BROKER_URL": "garbage"},
    ),
    # --- profiles
    "profile missing": Case(["produce", T, *RUN, "--profile", "{tmp}/nope.toml"], r"not found"),
    "profile not TOML": Case(
        ["produce", T, *RUN, "--profile", "{tmp}/p.toml"], r"cannot be read", files={"p.toml": "rate = [\n"}
    ),
    "profile unknown key": Case(
        ["produce", T, *RUN, "--profile", "{tmp}/p.toml"], r"unknown setting 'bogus'",
        files={"p.toml": "rate = 5\nbogus = 1\n"},
    ),
    "profile wrong type": Case(
        ["produce", T, *RUN, "--profile", "{tmp}/p.toml"], r"rate .*expected a number, got 'fast'",
        files={"p.toml": 'rate = "fast"\n'},
    ),
    "profile float for int": Case(
        ["produce", T, *RUN, "--profile", "{tmp}/p.toml"], r"expected a whole number, got 1.5",
        files={"p.toml": "threads = 1.5\n"},
    ),
    "profile list wanted": Case(
        ["produce", T, *RUN, "--profile", "{tmp}/p.toml"], r"expected a list of strings",
        files={"p.toml": "thresholds = 5\n"},
    ),
    "profile is a directory": Case(
        ["produce", T, *RUN, "--profile", "{tmp}/adir"], r"cannot be read", files={"adir": None}
    ),
    "profile out of range": Case(
        ["produce", T, *RUN, "--profile", "{tmp}/p.toml"], r"size=-5 is out of range",
        files={"p.toml": "size = -5\n"},
    ),
    # --- broker errors (set up by the `broker_errors` fixture)
    "namespace missing": Case(["produce", "persistent://public/no-such-ns/t", *RUN], r"TopicNotFound"),
    "tenant missing": Case(["consume", "persistent://no-tenant/default/t", *RUN], r"TopicNotFound"),
    "topic not found (no auto-creation)": Case(["produce", "{noauto_topic}", *RUN], r"TopicNotFound"),
    "topic terminated": Case(["produce", "{terminated_topic}", *RUN], r"TopicTerminated"),
    "backlog quota exceeded": Case(
        ["produce", "{quota_topic}", *RUN], r"ProducerBlockedQuotaExceeded.*backlog quota exceeded"
    ),
    "exclusive subscription busy": Case(
        ["consume", "{busy_topic}", *RUN],
        r"ConsumerBusy.*\(subscription 'pulsarload-sub' is held by another consumer: use another --subscription",
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def broker_errors(broker: Any) -> Iterator[dict[str, str]]:
    """Topics that make the broker refuse: no auto-creation, terminated, over quota, busy."""
    suffix = uuid.uuid4().hex[:6]
    http = httpx.Client(base_url=broker.admin_url, timeout=10)
    client = Client(broker.service_url)
    noauto, quota = f"public/noauto-{suffix}", f"public/quota-{suffix}"
    terminated = f"persistent://public/default/terminated-{suffix}"
    quota_topic = f"persistent://{quota}/t"
    busy = f"persistent://public/default/busy-{suffix}"
    try:
        for ns in (noauto, quota):
            http.put(f"/admin/v2/namespaces/{ns}").raise_for_status()
        http.post(
            f"/admin/v2/namespaces/{noauto}/autoTopicCreation",
            json={"allowAutoTopicCreation": False},
        ).raise_for_status()
        producer = client.create_producer(terminated)
        producer.send(b"x")
        producer.close()
        http.post(
            f"/admin/v2/persistent/public/default/terminated-{suffix}/terminate"
        ).raise_for_status()
        http.post(
            f"/admin/v2/namespaces/{quota}/backlogQuota",
            params={"backlogQuotaType": "destination_storage"},
            json={"limitSize": 1024, "limitTime": -1, "policy": "producer_exception"},
        ).raise_for_status()
        client.subscribe(quota_topic, "holds-the-backlog")
        producer = client.create_producer(quota_topic)
        try:
            for _ in range(20):
                producer.send(b"q" * 1024)
        except PulsarError:  # the broker's periodic quota check got there first: over quota
            pass
        with contextlib.suppress(PulsarError):
            producer.close()
        client.subscribe(busy, "pulsarload-sub")  # the default subscription, exclusive, held
        yield {
            "noauto_topic": f"persistent://{noauto}/t",
            "terminated_topic": terminated,
            "quota_topic": quota_topic,
            "busy_topic": busy,
        }
    finally:
        client.close()
        # Leave the shared broker as it was: the topics, then the namespaces.
        for topic in (terminated, quota_topic, busy, f"persistent://{noauto}/t"):
            http.delete("/admin/v2/" + topic.replace("://", "/"), params={"force": "true"})
        for ns in (noauto, quota):
            http.delete(f"/admin/v2/namespaces/{ns}")
        http.close()


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def check_one_line(code: object, out: str, err: str, expect: str) -> str:
    assert code not in (0, None), f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(("pulsarload: error:", "pulsar-producer: error:")), lines[0]
    assert re.search(expect, lines[0]), lines[0]
    return lines[0]


def check_nothing_half_written(folder: Path) -> None:
    """No temp or partial files; a report, if any, is whole JSON."""
    for path in folder.iterdir():
        assert not path.name.startswith(".") and not path.name.endswith((".tmp", ".partial")), path
        if path.name == "r.json":
            json.loads(path.read_text())


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_line(
    name: str,
    broker: Any,
    broker_errors: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = CASES[name]
    if name == "official engine on 3.13t" and importlib.util.find_spec("pulsar") is not None:
        pytest.skip("Apache's pulsar-client is installed here (a GIL build)")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for fname, text in case.files.items():
        if text is None:
            (tmp_path / fname).mkdir()
        else:
            (tmp_path / fname).write_text(text)
    admin_port = broker.admin_url.rsplit(":", 1)[1].strip("/")
    values = {
        "tmp": str(tmp_path),
        "admin_as_pulsar": f"pulsar://localhost:{admin_port}",
        "service_as_http": broker.service_url.replace("pulsar://", "http://"),
        **broker_errors,
    }
    args = [_fill(a, values) for a in case.args]
    if "--headless" in args:
        if "-u" not in args and "PULSAR_BROKER_URL" not in case.env:
            args += ["-u", broker.service_url]
        if "--admin-url" not in args:
            args += ["--admin-url", broker.admin_url]
        if "--report" not in args:
            args += ["--report", str(out_dir / "r.json")]
    for key in list(os.environ):
        if key.startswith(("PULSAR_", "PULSARLOAD_")):
            monkeypatch.delenv(key)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    check_one_line(info.value.code, out, err, case.expect)
    check_nothing_half_written(out_dir)


@pytest.mark.parametrize(
    "args, expect",
    [
        (["produce", T, "-r", "abc"], r"'abc' is not a valid float"),
        (
            ["produce", T, "--headless", "-m", "5", "--report", "/proc/nope/r.json"],
            r"cannot create",
        ),
        (
            ["consume", "persistent://public/no-such-ns/t", "--headless", "-m", "5"],
            r"TopicNotFound",
        ),
    ],
)
def test_a_real_interpreter_exits_the_same_way(broker: Any, args: list[str], expect: str) -> None:
    """The same contract through `python -m pulsarload` (exit code, stderr, no traceback)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR_", "PULSARLOAD_"))}
    env.update(PULSAR_BROKER_URL=broker.service_url, PULSAR_ADMIN_URL=broker.admin_url)
    result = subprocess.run(
        [sys.executable, "-m", "pulsarload", *args],
        capture_output=True, text=True, timeout=90, env=env, check=False,
    )  # fmt: skip
    line = check_one_line(result.returncode, result.stdout, result.stderr, expect)
    assert result.returncode == 2, line


def test_messages_over_the_broker_limit_fail_the_run(
    broker: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["produce", f"{T}-big", "--headless", "-m", "2", "-s", "6000000", "--no-batching",
            "-u", broker.service_url, "--admin-url", broker.admin_url]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(args)
    out, _err = capsys.readouterr()
    assert "MessageTooBig 2" in out
    assert info.value.code not in (0, None)
