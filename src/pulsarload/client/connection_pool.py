"""Connection pool: live connections keyed by (logical address, physical address, slot).

`connections_per_broker` slots per broker let several producer threads write to separate
sockets (no shared write lock). `get()` hands slots out round-robin; `get(slot=0)` is what lookups
use. Connecting happens outside the pool lock, so a slow broker never blocks other brokers;
threads asking for the same slot at once share one connect attempt. Closed connections drop out.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future
from typing import Any

from pulsarload.client.auth import Authentication
from pulsarload.client.connection import Connection
from pulsarload.client.errors import AlreadyClosed
from pulsarload.client.settings import ClientConfig
from pulsarload.client.urls import Address

__all__ = ["ConnectionPool"]

type PoolKey = tuple[Address, Address, int]


class ConnectionPool:
    """Shared by one client; thread-safe."""

    def __init__(
        self,
        config: ClientConfig,
        authentication: Authentication | None = None,
        *,
        connection_factory: Any = Connection.open,
    ) -> None:
        self.config = config
        self.auth = authentication
        self._factory = connection_factory
        self._lock = threading.Lock()
        self._conns: dict[PoolKey, Connection] = {}
        self._connecting: dict[PoolKey, Future[Connection]] = {}
        self._slots = itertools.count()
        self._closed = False
        # Bytes moved by connections that have since closed, so totals never go backwards.
        self._gone_in = 0
        self._gone_out = 0
        # Connections being closed by `close()`: still counted until their readers have ended.
        self._closing: list[Connection] = []
        self._io_done = False

    def get(
        self, logical: Address, physical: Address | None = None, slot: int | None = None
    ) -> Connection:
        """A live connection to `logical` (through `physical`, if a proxy), creating it if needed."""
        physical = physical or logical
        n = self.config.connections_per_broker
        if slot is None:
            with self._lock:
                slot = next(self._slots) % n
        key = (logical, physical, slot % n)
        with self._lock:
            if self._closed:
                raise AlreadyClosed("client is closed")
            conn = self._conns.get(key)
            if conn is not None and not conn.closed:
                return conn
            fut = self._connecting.get(key)
            owner = fut is None
            if owner:
                fut = Future()
                self._connecting[key] = fut
        assert fut is not None
        if not owner:
            # Another thread is connecting; its connect timeout bounds this wait.
            return fut.result()
        try:
            conn = self._factory(logical, physical, self.config, self.auth)
        except BaseException as err:
            with self._lock:
                self._connecting.pop(key, None)
            fut.set_exception(err)
            raise
        with self._lock:
            self._connecting.pop(key, None)
            closed = self._closed
            if not closed:
                self._conns[key] = conn
        if closed:
            conn.close()
            err = AlreadyClosed("client is closed")
            fut.set_exception(err)
            raise err
        conn.add_close_listener(lambda c, k=key: self._forget(k, c))
        fut.set_result(conn)
        return conn

    def _forget(self, key: PoolKey, conn: Connection) -> None:
        with self._lock:
            if self._conns.get(key) is conn:
                del self._conns[key]
                self._gone_in += conn.bytes_in
                self._gone_out += conn.bytes_out

    def connections(self) -> list[Connection]:
        """A snapshot of the live connections (for byte counters and tests)."""
        with self._lock:
            return [c for c in self._conns.values() if not c.closed]

    def byte_counts(self) -> tuple[int, int]:
        """(bytes in, bytes out) over the client's lifetime: all connections, closed ones too.

        One lock for the table, none on the connections: each counter has a single writer.
        """
        with self._lock:
            total_in, total_out = self._gone_in, self._gone_out
            for c in (*self._conns.values(), *self._closing):
                c_in, c_out = c.byte_counts()
                total_in += c_in
                total_out += c_out
        return total_in, total_out

    @property
    def bytes_in(self) -> int:
        """Bytes received over the client's lifetime (all connections, closed ones too)."""
        return self.byte_counts()[0]

    @property
    def bytes_out(self) -> int:
        """Bytes written over the client's lifetime."""
        return self.byte_counts()[1]

    @property
    def io_done(self) -> bool:
        """Closed, and every reader has ended: the byte counts will not change any more."""
        return self._io_done

    def close_connections(self) -> None:
        """Close every live connection and keep the pool open: their producers and consumers
        reconnect (used when the client moves to another cluster)."""
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = list(self._conns.values())
            self._conns.clear()
            self._closing += conns  # keep counting them: totals never dip while closing
        for conn in conns:
            conn.close()
        for conn in conns:
            conn.join(1.0)
        with self._lock:
            for conn in conns:
                if conn in self._closing:
                    self._closing.remove(conn)
                    self._gone_in += conn.bytes_in
                    self._gone_out += conn.bytes_out
            self._io_done = True
