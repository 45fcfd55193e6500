"""The local standalone's pieces that need no Java: config rendering, ports, the pid file, stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pulsarload.broker import standalone
from pulsarload.broker.jvm import Java
from pulsarload.broker.standalone import (
    MAIN_CLASS,
    BrokerError,
    StandaloneBroker,
    port_in_use,
    read_pid,
    render_template,
    tail_file,
)
from pulsarload.config import LocalBrokerSettings
from pulsarload.errors import UserError


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBrokerSettings:
    monkeypatch.setenv("PULSARLOAD_CACHE", str(tmp_path / "cache"))
    return LocalBrokerSettings(
        broker_port=free_port(), web_port=free_port(), home=tmp_path / "home", stop_timeout_s=2.0
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- configuration ---------------------------------------------------------------------------


def test_conf_template_renders_ports_and_single_bookie_quorums() -> None:
    text = render_template(
        "standalone.conf",
        home="/h",
        broker_port=16650,
        web_port=18080,
        bind_address="127.0.0.1",
        advertised_address="localhost",
    )
    conf = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert conf["brokerServicePort"] == "16650"
    assert conf["webServicePort"] == "18080"
    assert conf["clusterName"] == "standalone"
    assert conf["advertisedAddress"] == "localhost"
    for key in ("EnsembleSize", "WriteQuorum", "AckQuorum"):
        assert conf[f"managedLedgerDefault{key}"] == "1"
    assert conf["functionsWorkerEnabled"] == "false"
    assert conf["brokerDeduplicationEnabled"] == "false"
    assert conf["allowAutoTopicCreation"] == "true"
    assert "$" not in text


def test_conf_template_refuses_missing_values() -> None:
    with pytest.raises(KeyError):
        render_template("standalone.conf", broker_port=1)


def test_command_is_standalone_with_absolute_dirs_and_module_flags(settings) -> None:
    sb = StandaloneBroker(settings)
    cmd = sb.command(Java(path="/opt/java/bin/java", major=17))
    assert cmd[0] == "/opt/java/bin/java"
    main = cmd.index(MAIN_CLASS)
    args = cmd[main + 1 :]
    assert args[args.index("--config") + 1] == str(sb.conf_file)
    assert "-nfw" in args and "-nss" in args
    for flag in ("--metadata-dir", "--bookkeeper-dir"):
        path = Path(args[args.index(flag) + 1])
        assert path.is_absolute() and sb.home in path.parents
    jvm_opts = cmd[1:main]
    assert "java.base/java.nio=ALL-UNNAMED" in jvm_opts
    assert "--sun-misc-unsafe-memory-access=allow" not in jvm_opts  # Java 23+ only
    assert any(o.startswith("-Xmx") for o in jvm_opts)
    assert jvm_opts[jvm_opts.index("-cp") + 1].endswith("/lib/*")
    # command() wrote the files it refers to
    assert f"webServicePort={settings.web_port}" in sb.conf_file.read_text()
    assert (sb.conf_dir / "log4j2.xml").read_text().lstrip().startswith("<?xml")
    assert f"brokerServiceUrl={settings.service_url}" in (sb.conf_dir / "client.conf").read_text()


def test_newer_java_gets_unsafe_flag(settings) -> None:
    cmd = StandaloneBroker(settings).command(Java(path="java", major=24))
    assert "--sun-misc-unsafe-memory-access=allow" in cmd


# --- ports -----------------------------------------------------------------------------------


def test_port_in_use_detects_a_listener_and_a_free_port() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        taken = server.getsockname()[1]
        assert port_in_use(taken)
    assert not port_in_use(free_port())


def test_start_refuses_a_busy_port_before_launching_java(settings, monkeypatch) -> None:
    launched = []
    monkeypatch.setattr(standalone.jvm, "find_java", lambda: Java("java", 17))
    monkeypatch.setattr(standalone, "ensure_classpath", lambda s: [])
    monkeypatch.setattr(StandaloneBroker, "_launch", lambda self, cmd: launched.append(cmd))
    with socket.socket() as server:
        server.bind(("127.0.0.1", settings.web_port))
        server.listen()
        with pytest.raises(BrokerError) as err:
            StandaloneBroker(settings).start()
    msg = str(err.value)
    assert str(settings.web_port) in msg and "PULSARLOAD_WEB_PORT" in msg
    assert "\n" not in msg
    assert isinstance(err.value, UserError)
    assert launched == []


# --- pid file --------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "abc", "-5", "0", "12 34"])
def test_read_pid_rejects_garbage(tmp_path: Path, content: str) -> None:
    pid_file = tmp_path / "x.pid"
    pid_file.write_text(content)
    assert read_pid(pid_file) is None


def test_missing_pid_file_means_not_running(settings) -> None:
    sb = StandaloneBroker(settings)
    status = sb.status()
    assert not status.running and not status.ready and status.pid is None
    assert status.service_url == settings.service_url and status.home == sb.home
    assert sb.stop() is False


def test_stale_pid_of_a_dead_process_is_removed(settings) -> None:
    sb = StandaloneBroker(settings)
    dead = subprocess.Popen(["true"])
    dead.wait()
    sb.home.mkdir(parents=True)
    sb.pid_file.write_text(f"{dead.pid}\n")
    assert sb.status().running is False
    assert not sb.pid_file.exists()


def test_pid_of_an_unrelated_live_process_is_never_signalled(settings) -> None:
    sb = StandaloneBroker(settings)
    sb.home.mkdir(parents=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sb.pid_file.write_text(str(bystander.pid))
        assert sb.stop() is False
        time.sleep(0.2)  # a chance for a wrongly sent signal to land (none must)
        assert bystander.poll() is None  # still alive
        assert not sb.pid_file.exists()
    finally:
        bystander.kill()
        bystander.wait()


def fake_broker(sb: StandaloneBroker, *, ignore_term: bool) -> subprocess.Popen[bytes]:
    """A stand-in process whose command line looks like our JVM's (main class + config)."""
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, MAIN_CLASS, "--config", str(sb.conf_file)],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    standalone._children[proc.pid] = proc
    sb.home.mkdir(parents=True, exist_ok=True)
    sb.pid_file.write_text(f"{proc.pid}\n")
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # handler installed
    proc.stdout.close()
    return proc


@pytest.mark.parametrize("ignore_term", [False, True], ids=["term", "kill-after-timeout"])
def test_stop_ends_our_process_and_removes_pid_file(settings, ignore_term: bool) -> None:
    sb = StandaloneBroker(settings)
    proc = fake_broker(sb, ignore_term=ignore_term)
    try:
        assert sb.status().running and sb.status().pid == proc.pid
        assert sb.stop() is True
        assert proc.wait(timeout=5) == (-signal.SIGKILL if ignore_term else -signal.SIGTERM)
        assert not sb.pid_file.exists()
        assert sb.stop() is False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tail_file(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    assert tail_file(log, 5) == ""
    log.write_text("".join(f"line {i}\n" for i in range(10000)))
    assert tail_file(log, 3) == "line 9997\nline 9998\nline 9999\n"
    assert tail_file(log, 0) == ""


def test_tail_log_reads_the_broker_log(settings) -> None:
    sb = StandaloneBroker(settings)
    sb.log_path().parent.mkdir(parents=True)
    sb.log_path().write_text("a\nb\nc\n")
    assert sb.tail_log(2) == "b\nc\n"


def test_start_refuses_to_wait_for_our_broker_on_other_ports(settings, tmp_path) -> None:
    running = StandaloneBroker(settings)
    running.command(Java("java", 17))  # renders its conf with settings' ports
    proc = fake_broker(running, ignore_term=False)
    try:
        other = LocalBrokerSettings(
            broker_port=free_port(), web_port=free_port(), home=settings.home, stop_timeout_s=2.0
        )
        with pytest.raises(BrokerError, match="already runs on ports"):
            StandaloneBroker(other).start()
        assert proc.poll() is None  # left alone
    finally:
        running.stop()
