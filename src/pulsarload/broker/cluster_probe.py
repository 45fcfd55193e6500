"""Is each part of the local cluster ready? One probe per role, each bounded by a timeout.

- ZooKeeper answers `ruok` with `imok` (four-letter word, allowed in its config).
- The bookie accepts connections on its port (it opens it once its journal and ledger storage
  are up, and registers with the metadata store right after).
- A broker's admin API says it is ready and knows namespace public/default (`admin_ready`).
- The proxy accepts binary connections and forwards an admin request to a live broker.
"""

from __future__ import annotations

import socket

from pulsarload.broker.cluster_parts import Part
from pulsarload.broker.standalone import PROBE_TIMEOUT_S, admin_ready, http_ok


def _connects(port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def zookeeper_ok(port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"ruok")
            return sock.recv(16) == b"imok"
    except OSError:
        return False


def part_ready(part: Part) -> bool:
    """Whether `part` serves what its role is for."""
    if part.role == "zookeeper":
        return zookeeper_ok(part.port)
    if part.role == "bookie":
        return _connects(part.port)
    web = f"http://127.0.0.1:{part.web_port}"
    if part.role == "broker":
        return admin_ready(web)
    return _connects(part.port) and http_ok(web + "/admin/v2/brokers/ready") is not None
