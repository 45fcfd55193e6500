"""Reach a Pulsar running in Kubernetes (e.g. Minikube) on the same local ports as the standalone.

`kubectl port-forward svc/<proxy> 6650 8080` makes the cluster's proxy answer at
pulsar://localhost:6650 and http://localhost:8080, the defaults of PULSAR_BROKER_URL and
PULSAR_ADMIN_URL, so every command works against it unchanged.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

from pulsarload.broker.errors import BrokerError

KUBECTL_HINT = (
    "install kubectl (https://kubernetes.io/docs/tasks/tools/) or, with Minikube, "
    "put `minikube kubectl` on PATH as kubectl"
)


def port_forward_command(
    namespace: str, service: str, broker_port: int = 6650, web_port: int = 8080
) -> list[str]:
    """The kubectl command that forwards local broker/web ports to the service's 6650/8080."""
    if not namespace or not service:
        raise BrokerError("port-forward needs a namespace and a service name (e.g. pulsar-proxy)")
    for port in (broker_port, web_port):
        if not 1 <= port <= 65535:
            raise BrokerError(f"port {port} is not a port number (1..65535)")
    return [
        "kubectl",
        "--namespace",
        namespace,
        "port-forward",
        f"svc/{service}",
        f"{broker_port}:6650",
        f"{web_port}:8080",
    ]


def run_port_forward(namespace: str, service: str, *, echo: bool = False) -> int:
    """Run the port-forward until it ends or Ctrl-C (echo: print it first); kubectl's exit code."""
    cmd = port_forward_command(namespace, service)
    kubectl = shutil.which(cmd[0])
    if kubectl is None:
        raise BrokerError(f"kubectl not found on PATH; {KUBECTL_HINT}")
    _check_context(kubectl)
    if echo:
        print(f"+ {shlex.join(cmd)}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.Popen([kubectl, *cmd[1:]], stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise BrokerError(f"cannot run {kubectl} ({exc}); {KUBECTL_HINT}") from None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0


def _check_context(kubectl: str) -> None:
    """Without a kubeconfig, kubectl silently talks to localhost:8080 (here: Pulsar's own admin
    port) and fails with a puzzling NotFound; say what is missing instead."""
    try:
        probe = subprocess.run(
            [kubectl, "config", "current-context"],
            capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerError(f"cannot run {kubectl} ({exc}); {KUBECTL_HINT}") from None
    if probe.returncode != 0 or not probe.stdout.strip():
        raise BrokerError(
            "kubectl has no current context (no kubeconfig): set KUBECONFIG or run "
            "`kubectl config use-context NAME` (with Minikube: `minikube start`)"
        )
