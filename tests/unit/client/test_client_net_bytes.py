"""Socket byte counters: exact per connection, and totals that survive closing."""

from __future__ import annotations

import threading

import pytest

from pulsarload.client import Client
from pulsarload.client.connection import Connection
from pulsarload.client.connection_pool import ConnectionPool
from pulsarload.client.settings import ClientConfig
from pulsarload.client.urls import Address
from pulsarload.wire.commands import CommandPong
from pulsarload.wire.frames import encode_command
from support.fake_broker import FakeBroker
from support.waiting import eventually

pytestmark = pytest.mark.timeout(30)


def test_a_connection_counts_every_byte_it_writes_and_reads(fake: FakeBroker) -> None:
    cfg = ClientConfig(fake.url)
    addr = cfg.parsed_url.addresses[0]
    conn = Connection.open(addr, addr, cfg)
    try:
        eventually(lambda: bool(fake.conns), what="bool(fake.conns)")
        in0, out0 = conn.byte_counts()
        assert in0 > 0 and out0 > 0  # the handshake
        pong = encode_command(CommandPong())  # nobody answers a PONG
        for _ in range(3):
            conn.send(pong)
        assert conn.byte_counts()[1] == out0 + 3 * len(pong)
        for _ in range(5):
            fake.conns[0].send_raw(pong)
        eventually(
            lambda: conn.byte_counts()[0] == in0 + 5 * len(pong),
            what="conn.byte_counts()[0] == in0 + 5 * len(pong)",
        )
        assert conn.byte_counts() == (conn.bytes_in, conn.bytes_out)
    finally:
        conn.close()


def test_client_totals_do_not_drop_when_it_closes(fake: FakeBroker) -> None:
    client = Client(fake.url, operation_timeout_seconds=5)
    try:
        assert client.get_topic_partitions("persistent://public/default/t")
        before = client.byte_counts()
        assert before[0] > 0 and before[1] > 0
        assert not client.io_done
    finally:
        client.close()
    assert client.io_done
    assert client.byte_counts() >= before
    assert client.byte_counts() == (client.bytes_in, client.bytes_out)


class _ScriptedConnection:
    """Just what the pool uses of a connection, with counters the test sets."""

    def __init__(self, bytes_in: int, bytes_out: int) -> None:
        self.bytes_in, self.bytes_out = bytes_in, bytes_out
        self.closed = False
        self._listeners: list = []

    def byte_counts(self) -> tuple[int, int]:
        return self.bytes_in, self.bytes_out

    def add_close_listener(self, fn) -> None:
        self._listeners.append(fn)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bytes_in += 7  # a last read lands while closing
            for fn in self._listeners:
                fn(self)

    def join(self, timeout: float | None = None) -> None:
        pass


def test_pool_folds_closed_connections_into_its_totals() -> None:
    made: list[_ScriptedConnection] = []

    def factory(logical, physical, config, auth) -> _ScriptedConnection:
        made.append(_ScriptedConnection(100 * (len(made) + 1), 10))
        return made[-1]

    pool = ConnectionPool(
        ClientConfig("pulsar://h:6650", connections_per_broker=2), connection_factory=factory
    )
    a = Address("h", 6650)
    pool.get(a, slot=0)
    pool.get(a, slot=1)
    assert pool.byte_counts() == (300, 20)
    made[0].close()  # dropped from the pool (a broker restart): its bytes stay counted
    assert pool.byte_counts() == (307, 20)
    assert not pool.io_done
    pool.close()
    assert pool.io_done
    assert pool.byte_counts() == (314, 20)


def test_counting_from_many_threads_at_once_loses_nothing(fake: FakeBroker) -> None:
    """Writers share the write lock, so their adds never race."""
    cfg = ClientConfig(fake.url)
    addr = cfg.parsed_url.addresses[0]
    conn = Connection.open(addr, addr, cfg)
    pong = encode_command(CommandPong())
    try:
        out0 = conn.bytes_out

        def write() -> None:
            for _ in range(2000):
                conn.send(pong)

        threads = [threading.Thread(target=write) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert conn.bytes_out == out0 + 4 * 2000 * len(pong)
        assert conn.frames_out >= 4 * 2000
    finally:
        conn.close()
