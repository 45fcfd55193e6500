"""A small TCP fault proxy for the Pulsar binary protocol, for fault tests on loopback.

    with FaultProxy(("localhost", 6650)) as proxy:
        client = Client(proxy.url)          # every byte passes the proxy
        proxy.cut_all()                      # close every connection (clients reconnect)
        with proxy.stalled():                # hold every byte in both directions (no loss)
            ...
        proxy.delay = 0.05                   # each chunk forwarded 50 ms after it arrived
        proxy.close_mid_frame()              # the next broker frame is cut in half, then closed
        proxy.refusing = True                # new connections are accepted and closed at once

Why frame-aware toward the client: a lookup answers with the broker's own URL, and a client
would then connect to the broker directly, around the proxy; the proxy rewrites the URLs in
LOOKUP_RESPONSE to itself (the rest of each frame passes through untouched), and it needs frame
boundaries anyway to cut a connection half-way through a frame.

Each connection has a reader and a writer thread per direction; writers wait (stall, delay) on
their own, so a stall never blocks the accept loop and `cut_all` is instant. Every thread is a
daemon, and `close` stops them all.

`LoadPair` drives a producer and a consumer of the load layer (with `--verify`) through faults
and checks the result against what the producer reported as sent.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from pulsarload.load.results import RunResult
from pulsarload.load.verify import VerifyReport
from pulsarload.wire.commands import CommandLookupTopicResponse, decode_base_command
from pulsarload.wire.errors import ProtocolError
from pulsarload.wire.frames import encode_command
from support.waiting import eventually

_U32 = struct.Struct(">I")
_POLL_S = 0.02


class _Pipe:
    """One direction of one connection: read chunks (or frames), forward them when allowed."""

    def __init__(
        self, proxy: FaultProxy, conn: _Connection, src: socket.socket, dst: socket.socket, *,
        frames: bool,
    ) -> None:  # fmt: skip
        self.proxy = proxy
        self.conn = conn
        self.src = src
        self.dst = dst
        self.frames = frames
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.ready = threading.Condition()
        self.eof = False

    def start(self, name: str) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._read, name=f"{name}-read", daemon=True),
            threading.Thread(target=self._write, name=f"{name}-write", daemon=True),
        ]
        for t in threads:
            t.start()
        return threads

    def _read(self) -> None:
        buf = bytearray()
        try:
            while not self.conn.closed:
                data = self.src.recv(65536)
                if not data:
                    break
                if not self.frames:
                    self._put(bytes(data))
                    continue
                buf += data
                while len(buf) >= 4:
                    size = 4 + _U32.unpack_from(buf)[0]
                    if len(buf) < size:
                        break
                    frame = bytes(buf[:size])
                    del buf[:size]
                    self._put(self.proxy._rewrite(frame))
        except OSError:
            pass
        with self.ready:
            self.eof = True
            self.ready.notify_all()

    def _put(self, data: bytes) -> None:
        with self.ready:
            self.queue.append((time.monotonic(), data))
            self.ready.notify_all()

    def _write(self) -> None:
        proxy = self.proxy
        try:
            while not self.conn.closed:
                with self.ready:
                    while not self.queue and not self.eof and not self.conn.closed:
                        self.ready.wait(_POLL_S)
                    if not self.queue:
                        if self.eof:
                            break
                        continue
                    arrived, data = self.queue[0]
                due = arrived + proxy.delay
                if proxy.stalled_now or time.monotonic() < due:
                    time.sleep(min(_POLL_S, max(0.0, due - time.monotonic())) or _POLL_S)
                    continue
                with self.ready:
                    self.queue.popleft()
                if self.frames and proxy._take_mid_frame_cut():
                    self.dst.sendall(data[: max(1, len(data) // 2)])
                    proxy.mid_frame_cuts += 1
                    self.conn.close()
                    return
                self.dst.sendall(data)
                proxy.bytes_forwarded += len(data)
        except OSError:
            pass
        self.conn.close()


class _Connection:
    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._closed = threading.Event()
        self.up = _Pipe(proxy, self, client, upstream, frames=False)
        self.down = _Pipe(proxy, self, upstream, client, frames=True)
        self.threads: list[threading.Thread] = []

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def start(self, index: int) -> None:
        self.threads = self.up.start(f"proxy{index}-up") + self.down.start(f"proxy{index}-down")

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class FaultProxy:
    """A proxy on 127.0.0.1 (a free port) in front of `upstream` (host, port)."""

    def __init__(self, upstream: tuple[str, int], *, rewrite_lookups: bool = True) -> None:
        self.upstream = upstream
        self.rewrite_lookups = rewrite_lookups
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        #: Seconds each chunk waits in the proxy before it is forwarded (both directions).
        self.delay = 0.0
        #: While True, new connections are accepted and closed at once (a broker going down).
        self.refusing = False
        self.accepted = 0
        self.refused = 0
        self.cuts = 0
        self.mid_frame_cuts = 0
        self.lookups_rewritten = 0
        self.bytes_forwarded = 0
        self._stalled = threading.Event()
        self._mid_frame = 0
        self._lock = threading.Lock()
        self._conns: list[_Connection] = []
        self._closed = threading.Event()
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="proxy-accept", daemon=True
        )

    @property
    def url(self) -> str:
        return f"pulsar://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- faults ----------------------------------------------------------------------------

    def cut_all(self) -> int:
        """Close every open connection at once (both sides see a reset); returns how many."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        open_ones = sum(1 for c in conns if c.threads)
        self.cuts += open_ones
        return open_ones

    @property
    def stalled_now(self) -> bool:
        return self._stalled.is_set()

    def stall(self, on: bool = True) -> None:
        """Hold every byte in both directions (kept, not dropped) until `stall(False)`."""
        (self._stalled.set if on else self._stalled.clear)()

    @contextlib.contextmanager
    def stalled(self) -> Iterator[None]:
        self.stall(True)
        try:
            yield
        finally:
            self.stall(False)

    def close_mid_frame(self, count: int = 1) -> None:
        """Cut the next `count` broker-to-client frames half-way, closing their connection."""
        with self._lock:
            self._mid_frame += count

    def _take_mid_frame_cut(self) -> bool:
        if not self._mid_frame:
            return False
        with self._lock:
            if self._mid_frame:
                self._mid_frame -= 1
                return True
        return False

    def open_connections(self) -> int:
        with self._lock:
            self._conns = [c for c in self._conns if not c.closed]
            return len(self._conns)

    # --- plumbing --------------------------------------------------------------------------

    def _rewrite(self, frame: bytes) -> bytes:
        """Point LOOKUP_RESPONSE at the proxy; every other frame passes unchanged."""
        if not self.rewrite_lookups or len(frame) < 8:
            return frame
        total, cmd_size = _U32.unpack_from(frame)[0], _U32.unpack_from(frame, 4)[0]
        if total != 4 + cmd_size:  # a payload frame (MESSAGE): never a lookup
            return frame
        try:
            cmd: Any = decode_base_command(frame[8:])
        except ProtocolError:
            return frame
        if not isinstance(cmd, CommandLookupTopicResponse):
            return frame
        changes: dict[str, Any] = {}
        if cmd.brokerServiceUrl:
            changes["brokerServiceUrl"] = self.url
        if cmd.brokerServiceUrlTls:
            changes["brokerServiceUrlTls"] = f"pulsar+ssl://127.0.0.1:{self.port}"
        self.lookups_rewritten += 1
        return encode_command(dataclasses.replace(cmd, **changes))

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.1)
        index = 0
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self.refusing:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, client, upstream)
            with self._lock:
                self._conns.append(conn)
            self.accepted += 1
            index += 1
            conn.start(index)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut_all()
        self._acceptor.join(5)


# ------------------------------------------------------------------------------------------
# Driving a producer and a consumer (the load layer, in this process) through faults.


@dataclass
class PairResult:
    """The outcome of a `LoadPair` run: both run results, and the consumer's verification
    against what the producer reported as handed to its client."""

    producer: RunResult
    consumer: RunResult
    sent: dict[int, int]
    verify: VerifyReport

    @property
    def failed_by_category(self) -> dict[str, int]:
        return dict(self.producer.final.total.errors)


class LoadPair:
    """A producer and a consumer `LoadController` on one topic, both with `--verify`."""

    def __init__(
        self, service_url: str, admin_url: str, topic: str, *,
        producer: dict[str, Any] | None = None, consumer: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        base = {"topic": topic, "service_url": service_url, "admin_url": admin_url, "verify": True}
        self.producer = LoadController(
            "producer",
            resolve_settings(
                ProduceSettings, {**base, "rate": 1000.0, **(producer or {})}, environ={}
            ),
        )
        self.consumer = LoadController(
            "consumer",
            resolve_settings(
                ConsumeSettings,
                {**base, "initial_position": "earliest", **(consumer or {})},
                environ={},
            ),
        )

    def start(self, timeout: float = 60) -> None:
        """Consumer first (subscribed before the first message), then the producer."""
        self.consumer.start()
        eventually(lambda: self._states(self.consumer) == {"running"}, timeout, "consumer running")
        self.producer.start()
        eventually(lambda: self.acked() > 0, timeout, "first acknowledged message")

    @staticmethod
    def _states(controller: LoadController) -> set[str]:
        pool = controller.pool
        return {w.slot.state for w in pool.workers()} if pool else set()

    @staticmethod
    def _total(controller: LoadController) -> Any:
        snap = controller.sampler.latest
        return snap.total if snap is not None else None

    def acked(self) -> int:
        total = self._total(self.producer)
        return total.acked if total else 0

    def failed(self) -> int:
        total = self._total(self.producer)
        return total.failed if total else 0

    def received(self) -> int:
        total = self._total(self.consumer)
        return total.received if total else 0

    def progress_after(self, seconds: float, *, what: str, timeout: float = 90) -> None:
        """Both sides move again: acks and receipts grow past where they are now."""
        acked, received = self.acked(), self.received()
        time.sleep(seconds)
        eventually(
            lambda: self.acked() > acked + 100 and self.received() > received + 100,
            timeout,
            f"traffic to resume after {what}",
        )

    def finish(self, drain_timeout: float = 90) -> PairResult:
        """Stop the producer (flush), let the consumer catch up, stop it, verify."""
        produced = self.producer.stop()
        pool = self.producer.pool
        sent = pool.producer_sent() if pool else {}
        total_sent = sum(sent.values())
        # Caught up when it has received at least everything sent and nothing for a moment.
        last = [-1, time.monotonic()]

        def caught_up() -> bool:
            got = self.received()
            if got != last[0]:
                last[0], last[1] = got, time.monotonic()
            return got >= total_sent and time.monotonic() - last[1] > 1.0

        with contextlib.suppress(TimeoutError):
            eventually(caught_up, drain_timeout, "the consumer to catch up")
        consumed = self.consumer.stop()
        cpool = self.consumer.pool
        assert cpool is not None
        report = cpool.merged_tracker().report(sent)
        return PairResult(produced, consumed, sent, report)

    def abort(self) -> None:
        for controller in (self.producer, self.consumer):
            with contextlib.suppress(Exception):
                controller.stop()
