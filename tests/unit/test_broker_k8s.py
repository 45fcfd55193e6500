"""`pulsarload k8s port-forward`: the service's ports read by name, the kubectl command, and
one clear line for what cannot work. kubectl is a stand-in script that answers as the real one
does (`get service -o json` prints a Service object; errors go to stderr with exit code 1)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pulsarload.broker.k8s import (
    ServicePorts,
    port_forward_command,
    run_port_forward,
    service_ports,
)
from pulsarload.broker.standalone import BrokerError

REPO = Path(__file__).resolve().parents[2]


def service(ports: list[tuple[str, int]], name: str = "pulsar-proxy") -> dict:
    """A Service as `kubectl get service NAME -o json` prints it (the fields that matter, and
    some that do not)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "pulsar", "labels": {"component": "proxy"}},
        "spec": {
            "clusterIP": "10.96.12.34",
            "ports": [
                {"name": n, "port": p, "protocol": "TCP", "targetPort": f"sts-{n}"}
                for n, p in ports
            ],
            "selector": {"component": "proxy"},
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }


# Apache's Pulsar Helm chart: the proxy service without TLS, with TLS, and with a port prefix.
HELM_PLAIN = [("http", 80), ("pulsar", 6650)]
HELM_TLS = [("https", 443), ("pulsarssl", 6651)]
HELM_PREFIXED = [("http", 80), ("tcp-pulsar", 6650)]


def fake_kubectl(tmp_path: Path, services: dict[str, dict], context: str = "minikube") -> Path:
    """A kubectl on PATH that knows `services` in namespace pulsar and records port-forwards."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (tmp_path / "services.json").write_text(json.dumps(services))
    script = bindir / "kubectl"
    script.write_text(
        f"""#!{sys.executable}
import json, sys
from pathlib import Path
here = Path({str(tmp_path)!r})
args = sys.argv[1:]
ns = "default"
if args[:1] == ["--namespace"]:
    ns, args = args[1], args[2:]
if args == ["config", "current-context"]:
    if {context!r}:
        print({context!r})
        sys.exit(0)
    print("error: current-context is not set", file=sys.stderr)
    sys.exit(1)
services = json.loads((here / "services.json").read_text())
if args[:2] == ["get", "service"] and args[3:] == ["-o", "json"]:
    if ns == "pulsar" and args[2] in services:
        print(json.dumps(services[args[2]], indent=4))
        sys.exit(0)
    print(f'Error from server (NotFound): services "{{args[2]}}" not found', file=sys.stderr)
    sys.exit(1)
if args[:1] == ["port-forward"]:
    (here / "forward.txt").write_text(" ".join(["--namespace", ns, *args]))
    sys.exit(0)
print(f"error: unknown command {{args}}", file=sys.stderr)
sys.exit(1)
"""
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bindir


def on_path(monkeypatch: pytest.MonkeyPatch, bindir: Path) -> None:
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.parametrize(
    "ports,expected",
    [
        (HELM_PLAIN, ServicePorts(6650, 80, tls=False)),
        (HELM_TLS, ServicePorts(6651, 443, tls=True)),
        (HELM_PREFIXED, ServicePorts(6650, 80, tls=False)),
        (HELM_PLAIN + HELM_TLS, ServicePorts(6650, 80, tls=False)),
        ([("http", 8080), ("pulsar", 6650), ("metrics", 9090)], ServicePorts(6650, 8080, False)),
    ],
)
def test_ports_are_read_by_name(ports: list, expected: ServicePorts) -> None:
    assert service_ports(service(ports), "service p") == expected


def test_a_service_without_pulsar_ports_is_one_clear_line() -> None:
    with pytest.raises(BrokerError) as err:
        service_ports(service([("web", 80)]), "service grafana in namespace pulsar")
    msg = str(err.value)
    assert "service grafana in namespace pulsar has no Pulsar ports" in msg
    assert "web:80" in msg and "\n" not in msg


def test_command_forwards_local_ports_to_the_service_ports() -> None:
    ports = ServicePorts(6650, 80, tls=False)
    assert port_forward_command("pulsar", "pulsar-proxy", ports) == [
        "kubectl", "--namespace", "pulsar", "port-forward", "svc/pulsar-proxy",
        "6650:6650", "8080:80",
    ]  # fmt: skip
    cmd = port_forward_command("ns", "svc-a", ports, broker_port=16650, web_port=18080)
    assert cmd[-2:] == ["16650:6650", "18080:80"]


@pytest.mark.parametrize("ns,svc,port", [("", "p", 6650), ("n", "", 6650), ("n", "p", 0)])
def test_command_refuses_bad_input(ns: str, svc: str, port: int) -> None:
    with pytest.raises(BrokerError):
        port_forward_command(ns, svc, ServicePorts(6650, 80, False), broker_port=port)


def test_helm_chart_proxy_is_forwarded_to_its_ports(monkeypatch, tmp_path: Path, capfd) -> None:
    on_path(monkeypatch, fake_kubectl(tmp_path, {"pulsar-proxy": service(HELM_PLAIN)}))
    assert run_port_forward("pulsar", "pulsar-proxy", echo=True) == 0
    forwarded = (tmp_path / "forward.txt").read_text()
    assert forwarded == "--namespace pulsar port-forward svc/pulsar-proxy 6650:6650 8080:80"
    err = capfd.readouterr().err
    assert "+ kubectl --namespace pulsar port-forward svc/pulsar-proxy 6650:6650 8080:80" in err
    assert "PULSAR_BROKER_URL=pulsar://localhost:6650 PULSAR_ADMIN_URL=http://localhost:8080" in err


def test_tls_proxy_is_forwarded_and_named_with_tls_urls(monkeypatch, tmp_path: Path, capfd) -> None:
    on_path(monkeypatch, fake_kubectl(tmp_path, {"pulsar-proxy": service(HELM_TLS)}))
    assert run_port_forward("pulsar", "pulsar-proxy", echo=True) == 0
    assert (tmp_path / "forward.txt").read_text().endswith("6650:6651 8080:443")
    assert "pulsar+ssl://localhost:6650" in capfd.readouterr().err


def test_cli_end_to_end_and_unknown_service(tmp_path: Path) -> None:
    bindir = fake_kubectl(tmp_path, {"pulsar-proxy": service(HELM_PLAIN)})
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["PYTHONPATH"] = str(REPO / "src")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pulsarload", "k8s", "port-forward", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    ok = run("--namespace", "pulsar", "--service", "pulsar-proxy")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "forward.txt").read_text().endswith("6650:6650 8080:80")
    missing = run("--namespace", "pulsar", "--service", "pulsar-brokr")
    assert missing.returncode != 0
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1, missing.stderr
    assert "kubectl cannot read service pulsar-brokr in namespace pulsar" in lines[0]
    assert 'services "pulsar-brokr" not found' in lines[0]


def test_service_without_pulsar_ports_forwards_nothing(monkeypatch, tmp_path: Path) -> None:
    on_path(monkeypatch, fake_kubectl(tmp_path, {"grafana": service([("http", 80)])}))
    with pytest.raises(BrokerError) as err:
        run_port_forward("pulsar", "grafana")
    assert "no Pulsar ports" in str(err.value) and "http:80" in str(err.value)
    assert not (tmp_path / "forward.txt").exists()


def test_missing_kubectl_is_one_clear_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError) as err:
        run_port_forward("pulsar", "pulsar-proxy")
    msg = str(err.value)
    assert "kubectl not found" in msg and "install kubectl" in msg
    assert "\n" not in msg


def test_returns_kubectl_exit_code(monkeypatch, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    kubectl = bindir / "kubectl"
    body = json.dumps(service(HELM_PLAIN))
    kubectl.write_text(
        '#!/bin/sh\n[ "$1 $2" = "config current-context" ] && { echo minikube; exit 0; }\n'
        f'[ "$3 $4" = "get service" ] && {{ echo \'{body}\'; exit 0; }}\n'
        "exit 3\n"
    )
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IXUSR)
    on_path(monkeypatch, bindir)
    assert run_port_forward("pulsar", "pulsar-proxy") == 3


def test_no_kube_context_is_one_clear_line(monkeypatch, tmp_path: Path) -> None:
    on_path(monkeypatch, fake_kubectl(tmp_path, {}, context=""))
    with pytest.raises(BrokerError) as err:
        run_port_forward("pulsar", "pulsar-proxy")
    assert "no current context" in str(err.value) and "\n" not in str(err.value)
