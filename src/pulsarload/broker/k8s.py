"""Reach a Pulsar running in Kubernetes (e.g. Minikube) on the same local ports as the standalone.

`pulsarload k8s port-forward` reads the service's ports by name and forwards local 6650 and
8080 to them, so the cluster's proxy answers at pulsar://localhost:6650 and
http://localhost:8080, the defaults of PULSAR_BROKER_URL and PULSAR_ADMIN_URL, and every command
works against it unchanged. Ports are looked up by name because their numbers differ: Apache's
Pulsar Helm chart exposes the proxy's HTTP as `http` on port 80 (`https` on 443 with TLS) and
the binary protocol as `pulsar` on 6650 (`pulsarssl` on 6651); a chart value may prefix the
names (`tcp-pulsar`, `tls-pulsarssl`).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from pulsarload.broker.errors import BrokerError

KUBECTL_HINT = (
    "install kubectl (https://kubernetes.io/docs/tasks/tools/) or, with Minikube, "
    "put `minikube kubectl` on PATH as kubectl"
)
#: How long a kubectl query (context, service) may take before we give up.
KUBECTL_TIMEOUT_S = 20.0

#: Service port names, plain first: (binary protocol, HTTP) without and with TLS.
_PLAIN = ("pulsar", "http")
_TLS = ("pulsarssl", "https")


@dataclass(frozen=True, slots=True)
class ServicePorts:
    """The service's binary-protocol and HTTP ports, and whether they are the TLS ones."""

    pulsar: int
    http: int
    tls: bool

    def urls(self, broker_port: int = 6650, web_port: int = 8080) -> tuple[str, str]:
        """The service and admin URLs that reach these ports once forwarded locally."""
        if self.tls:
            return f"pulsar+ssl://localhost:{broker_port}", f"https://localhost:{web_port}"
        return f"pulsar://localhost:{broker_port}", f"http://localhost:{web_port}"


def _named(ports: dict[str, int], name: str) -> int | None:
    if name in ports:
        return ports[name]
    prefixed = [port for n, port in ports.items() if n.endswith("-" + name)]
    return prefixed[0] if len(prefixed) == 1 else None


def service_ports(service: dict[str, Any], where: str) -> ServicePorts:
    """The Pulsar ports of a Service object (as `kubectl get service -o json` prints it):
    `pulsar` and `http`, else their TLS variants `pulsarssl` and `https`."""
    spec = service.get("spec") if isinstance(service, dict) else None
    raw = spec.get("ports") if isinstance(spec, dict) else None
    ports: dict[str, int] = {}
    for p in raw if isinstance(raw, list) else []:
        if (
            isinstance(p, dict)
            and isinstance(p.get("name"), str)
            and isinstance(p.get("port"), int)
        ):
            ports[p["name"]] = p["port"]
    for (pulsar_name, http_name), tls in ((_PLAIN, False), (_TLS, True)):
        pulsar, http = _named(ports, pulsar_name), _named(ports, http_name)
        if pulsar is not None and http is not None:
            return ServicePorts(pulsar, http, tls)
    have = ", ".join(f"{n}:{p}" for n, p in sorted(ports.items())) or "none"
    raise BrokerError(
        f"{where} has no Pulsar ports named pulsar and http (or pulsarssl and https); it has "
        f"{have}: pass the proxy's service with --service (e.g. pulsar-proxy)"
    )


def read_service_ports(kubectl: str, namespace: str, service: str) -> ServicePorts:
    """Ask kubectl for the service and read its Pulsar ports by name."""
    where = f"service {service} in namespace {namespace}"
    try:
        proc = subprocess.run(
            [kubectl, "--namespace", namespace, "get", "service", service, "-o", "json"],
            capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerError(f"cannot ask kubectl for {where} ({exc}); {KUBECTL_HINT}") from None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise BrokerError(
            f"kubectl cannot read {where}: {reason}; check --namespace and --service "
            f"(kubectl --namespace {namespace} get services)"
        )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise BrokerError(f"kubectl answered something other than JSON for {where}") from None
    return service_ports(data, where)


def port_forward_command(
    namespace: str,
    service: str,
    ports: ServicePorts,
    broker_port: int = 6650,
    web_port: int = 8080,
) -> list[str]:
    """The kubectl command that forwards local broker/web ports to the service's ports."""
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
        f"{broker_port}:{ports.pulsar}",
        f"{web_port}:{ports.http}",
    ]


def run_port_forward(namespace: str, service: str, *, echo: bool = False) -> int:
    """Read the service's ports, then run the port-forward until it ends or Ctrl-C (echo:
    print the command and the URLs to use first); returns kubectl's exit code."""
    if not namespace or not service:
        raise BrokerError("port-forward needs a namespace and a service name (e.g. pulsar-proxy)")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise BrokerError(f"kubectl not found on PATH; {KUBECTL_HINT}")
    _check_context(kubectl)
    ports = read_service_ports(kubectl, namespace, service)
    cmd = port_forward_command(namespace, service, ports)
    if echo:
        service_url, admin_url = ports.urls()
        print(f"+ {shlex.join(cmd)}", file=sys.stderr, flush=True)
        print(
            f"  then: PULSAR_BROKER_URL={service_url} PULSAR_ADMIN_URL={admin_url}",
            file=sys.stderr,
            flush=True,
        )
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
            capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerError(f"cannot run {kubectl} ({exc}); {KUBECTL_HINT}") from None
    if probe.returncode != 0 or not probe.stdout.strip():
        raise BrokerError(
            "kubectl has no current context (no kubeconfig): set KUBECONFIG or run "
            "`kubectl config use-context NAME` (with Minikube: `minikube start`)"
        )
