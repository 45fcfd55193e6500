"""The local cluster's pieces that need no Java: layout, ports, configs, pid checks, failures."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pulsarload.broker import cluster as cluster_mod
from pulsarload.broker import cluster_parts, jvm_process
from pulsarload.broker.cluster import LocalCluster, recorded_settings
from pulsarload.broker.errors import BrokerError
from pulsarload.broker.jvm import Java
from pulsarload.config import LocalClusterSettings
from pulsarload.errors import ConfigError, UserError


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_base(span: int = 22, avoid: range = range(0)) -> int:
    """A base port whose whole cluster range (base .. base+span-1) is free now: a single free
    port says nothing of its neighbours, which another program may hold."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        ports = range(base, base + span)
        if ports[-1] <= 65535 and not set(ports) & set(avoid) and all(map(_port_free, ports)):
            return base
    raise RuntimeError(f"no free range of {span} ports on 127.0.0.1")


@pytest.fixture
def settings(tmp_path: Path) -> LocalClusterSettings:
    return LocalClusterSettings(
        brokers=2, base_port=(base := free_base()),
        web_base_port=free_base(avoid=range(base, base + 22)), home=tmp_path / "cl",
        stop_timeout_s=2.0,
    )  # fmt: skip


def test_parts_have_their_own_ports_and_folders(settings: LocalClusterSettings) -> None:
    parts = cluster_parts.parts_of(settings)
    assert [p.name for p in parts] == ["zookeeper", "bookie", "broker-1", "broker-2", "proxy"]
    ports = [port for p in parts for port in p.ports]
    assert len(ports) == len(set(ports)) == 8
    assert len({p.folder for p in parts}) == len(parts)
    proxy = parts[-1]
    assert proxy.ports == (settings.base_port, settings.web_base_port)
    assert settings.proxy_service_url == f"pulsar://127.0.0.1:{settings.base_port}"
    b = settings.base_port
    assert settings.broker_service_url == f"pulsar://127.0.0.1:{b + 1},127.0.0.1:{b + 2}"


def test_without_a_proxy_clients_get_every_broker(settings: LocalClusterSettings) -> None:
    from dataclasses import replace

    no_proxy = replace(settings, proxy=False)
    assert [p.name for p in cluster_parts.parts_of(no_proxy)][-1] == "broker-2"
    assert no_proxy.service_url == no_proxy.broker_service_url


@pytest.mark.parametrize("brokers", [0, 10])
def test_broker_count_out_of_range_is_one_clear_line(brokers: int) -> None:
    with pytest.raises(ConfigError, match="1 to 9 brokers"):
        LocalClusterSettings(brokers=brokers)


def test_configs_render_every_placeholder(settings: LocalClusterSettings) -> None:
    for part in cluster_parts.parts_of(settings):
        cluster_parts.write_config(part, settings)
        text = part.conf_file.read_text()
        assert "$" not in text, part.name
        assert str(part.port) in text
    proxy = cluster_parts.parts_of(settings)[-1].conf_file.read_text()
    b = settings.base_port
    assert f"brokerProxyAllowedTargetPorts={b + 1},{b + 2}" in proxy
    broker = cluster_parts.parts_of(settings)[2].conf_file.read_text()
    assert f"metadataStoreUrl=zk:127.0.0.1:{settings.zookeeper_port}" in broker
    assert "loadBalancerEnabled=true" in broker


def test_commands_carry_the_role_heap_and_config(settings: LocalClusterSettings) -> None:
    java = Java("java", 17)
    for part in cluster_parts.parts_of(settings):
        cmd = cluster_parts.command(java, part, settings)
        assert part.main_class in cmd and str(part.conf_file) in cmd
        assert settings.mem[part.role].split()[-1] in cmd


def _no_java(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    launched: list[object] = []
    monkeypatch.setattr(cluster_mod.jvm, "find_java", lambda: Java("java", 17))
    monkeypatch.setattr(cluster_mod, "ensure_classpath", lambda s: [])
    monkeypatch.setattr(jvm_process, "launch", lambda part, cmd: launched.append(part))
    return launched


def test_a_taken_port_is_one_clear_line_before_any_jvm_starts(
    settings: LocalClusterSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched = _no_java(monkeypatch)
    taken = settings.broker_web_port(2)
    with socket.socket() as server:
        server.bind(("127.0.0.1", taken))
        server.listen()
        with pytest.raises(BrokerError) as err:
            LocalCluster(settings).start()
    msg = str(err.value)
    assert f"port {taken} (broker-2) is already in use" in msg
    assert "\n" not in msg and isinstance(err.value, UserError)
    assert launched == []


def test_a_part_that_exits_names_itself_its_log_and_its_tail(
    settings: LocalClusterSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ZooKeeper (here a Python that prints and exits 3) dies during start-up."""
    monkeypatch.setattr(cluster_mod.jvm, "find_java", lambda: Java("java", 17))
    monkeypatch.setattr(cluster_mod, "ensure_classpath", lambda s: [])
    script = "print('Address already in use: bind'); raise SystemExit(3)"
    monkeypatch.setattr(
        cluster_parts, "command", lambda java, part, s: [sys.executable, "-c", script]
    )
    with pytest.raises(BrokerError) as err:
        LocalCluster(settings).start()
    msg = str(err.value)
    first = msg.splitlines()[0]
    assert first.startswith("zookeeper: exited during start-up (exit code 3)")
    assert str(settings.home / "zookeeper" / "zookeeper.log") in first
    assert "Address already in use" in msg
    assert LocalCluster(settings).status().running is False


def test_a_pid_file_naming_another_program_is_not_ours(settings: LocalClusterSettings) -> None:
    local = LocalCluster(settings)
    part = local.part("broker-1")
    part.folder.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        part.pid_file.write_text(f"{sleeper.pid}\n")
        assert local.pid("broker-1") is None  # alive, but not the broker with our config
        assert not part.pid_file.exists()
        assert local.stop() == []
        assert sleeper.poll() is None  # never signalled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_layout_is_recorded_for_status_and_stop(
    settings: LocalClusterSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    _no_java(monkeypatch)
    three = replace(settings, brokers=3, proxy=False)
    local = LocalCluster(three)
    local.home.mkdir(parents=True)
    layout = {"brokers": 3, "proxy": False, "base_port": three.base_port,
              "web_base_port": three.web_base_port}  # fmt: skip
    (local.home / cluster_mod.LAYOUT_FILE).write_text(json.dumps(layout))
    found = recorded_settings(settings)
    assert (found.brokers, found.proxy) == (3, False)
    assert recorded_settings(replace(settings, home=settings.home / "none")).brokers == 2


def test_an_unknown_part_is_one_clear_line(settings: LocalClusterSettings) -> None:
    with pytest.raises(BrokerError, match="no part 'broker-7'.*broker-2"):
        LocalCluster(settings).part("broker-7")
