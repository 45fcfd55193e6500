"""`pulsarload k8s port-forward`: the kubectl command and a clear error without kubectl."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pulsarload.broker.k8s import port_forward_command, run_port_forward
from pulsarload.broker.standalone import BrokerError


def test_command_forwards_proxy_service_ports() -> None:
    assert port_forward_command("pulsar", "pulsar-proxy") == [
        "kubectl", "--namespace", "pulsar", "port-forward", "svc/pulsar-proxy",
        "6650:6650", "8080:8080",
    ]  # fmt: skip


def test_command_with_other_local_ports() -> None:
    cmd = port_forward_command("ns", "svc-a", broker_port=16650, web_port=18080)
    assert cmd[-2:] == ["16650:6650", "18080:8080"]


@pytest.mark.parametrize("ns,svc,port", [("", "p", 6650), ("n", "", 6650), ("n", "p", 0)])
def test_command_refuses_bad_input(ns: str, svc: str, port: int) -> None:
    with pytest.raises(BrokerError):
        port_forward_command(ns, svc, broker_port=port)


def test_missing_kubectl_is_one_clear_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError) as err:
        run_port_forward("pulsar", "pulsar-proxy")
    msg = str(err.value)
    assert "kubectl not found" in msg and "install kubectl" in msg
    assert "\n" not in msg


def test_runs_kubectl_and_returns_its_exit_code(monkeypatch, tmp_path: Path, capfd) -> None:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(
        '#!/bin/sh\n[ "$1 $2" = "config current-context" ] && { echo minikube; exit 0; }\n'
        'echo "args: $*"\nexit 3\n'
    )
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert run_port_forward("pulsar", "pulsar-proxy", echo=True) == 3
    out, err = capfd.readouterr()
    assert "args: --namespace pulsar port-forward svc/pulsar-proxy 6650:6650 8080:8080" in out
    assert err.startswith("+ kubectl --namespace pulsar")


def test_no_kube_context_is_one_clear_line(monkeypatch, tmp_path: Path) -> None:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\necho "error: current-context is not set" >&2\nexit 1\n')
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    with pytest.raises(BrokerError) as err:
        run_port_forward("pulsar", "pulsar-proxy")
    assert "no current context" in str(err.value) and "\n" not in str(err.value)
