"""A scriptable fake Pulsar broker for unit tests: a loopback socket server speaking real frames.

Default behaviour answers CONNECT, PING, LOOKUP (Connect to itself), PARTITIONED_METADATA,
PRODUCER, SEND (a receipt per frame) and CLOSE_PRODUCER. A test overrides a command with
`broker.on(CommandType.X, fn)`; `fn(conn, frame)` returns True when it handled the frame
(or False to fall through to the default). Everything the broker receives is recorded.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulsarload.wire.commands import (
    CommandCloseProducer,
    CommandConnected,
    CommandLookupTopicResponse,
    CommandPartitionedTopicMetadataResponse,
    CommandPong,
    CommandProducerSuccess,
    CommandSendError,
    CommandSendReceipt,
    CommandSuccess,
)
from pulsarload.wire.enums import CommandType, LookupType, ServerError
from pulsarload.wire.frames import Frame, FrameParser, encode_command
from pulsarload.wire.messages import MessageIdData
from pulsarload.wire.protobuf import Message


@dataclass
class Received:
    """One SEND frame the broker got."""

    conn_id: int
    producer_id: int
    sequence_id: int
    num_messages: int
    highest_sequence_id: int | None
    is_chunk: bool
    metadata: Any
    payload: bytes


class FakeConn:
    def __init__(self, broker: FakeBroker, sock: socket.socket, conn_id: int) -> None:
        self.broker = broker
        self.sock = sock
        self.id = conn_id
        self.lock = threading.Lock()
        self.closed = False
        self.producers: dict[int, str] = {}
        self.connect: Any = None

    def send(self, cmd: Message) -> None:
        self.send_raw(encode_command(cmd))

    def send_raw(self, data: bytes) -> None:
        with self.lock:
            if self.closed:
                return
            with contextlib.suppress(OSError):
                self.sock.sendall(data)

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@dataclass
class FakeBroker:
    max_message_size: int | None = None
    partitions: dict[str, int] = field(default_factory=dict)
    last_sequence_id: int | None = None
    #: Answer PING at all (False simulates a hung broker).
    answer_ping: bool = True
    #: Answer CONNECT at all (False simulates a hung handshake).
    answer_connect: bool = True
    #: Delay before each SEND_RECEIPT (seconds).
    receipt_delay: float = 0.0
    #: Serve TLS with this server-side context.
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self.received: list[Received] = []
        self.commands: list[Any] = []
        self.handlers: dict[int, Callable[[FakeConn, Frame], bool]] = {}
        self.conns: list[FakeConn] = []
        self._lock = threading.Lock()
        self._entry = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._stopping = False
        self.start()

    # --- control ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "pulsar+ssl" if self.ssl_context is not None else "pulsar"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(16)
        self.port = ls.getsockname()[1]
        self._listener = ls
        self._stopping = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(2)
        self.kill_connections()

    def kill_connections(self) -> None:
        with self._lock:
            conns = list(self.conns)
            self.conns.clear()
        for c in conns:
            c.close()

    def on(self, ctype: CommandType, fn: Callable[[FakeConn, Frame], bool]) -> None:
        self.handlers[int(ctype)] = fn

    def sequence_ids(self) -> list[int]:
        with self._lock:
            return [r.sequence_id for r in self.received]

    # --- serving ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        ls = self._listener
        n = 0
        while not self._stopping and ls is not None:
            try:
                sock, _ = ls.accept()
            except OSError:
                return
            n += 1
            conn = FakeConn(self, sock, n)
            with self._lock:
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: FakeConn) -> None:
        parser = FrameParser(max_message_size=64 * 1024 * 1024)
        try:
            if self.ssl_context is not None:
                conn.sock.settimeout(5)
                conn.sock = self.ssl_context.wrap_socket(conn.sock, server_side=True)
                conn.sock.settimeout(None)
            while True:
                data = conn.sock.recv(65536)
                if not data:
                    break
                for frame in parser.feed(data):
                    self._handle(conn, frame)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def _handle(self, conn: FakeConn, frame: Frame) -> None:
        cmd = frame.command
        ctype = frame.type
        with self._lock:
            self.commands.append(cmd)
        fn = self.handlers.get(int(ctype))
        if fn is not None and fn(conn, frame):
            return
        if ctype == CommandType.CONNECT:
            conn.connect = cmd
            if self.answer_connect:
                conn.send(
                    CommandConnected(
                        server_version="fake-broker",
                        protocol_version=21,
                        max_message_size=self.max_message_size,
                    )
                )
        elif ctype == CommandType.PING:
            if self.answer_ping:
                conn.send(CommandPong())
        elif ctype == CommandType.LOOKUP:
            conn.send(
                CommandLookupTopicResponse(
                    brokerServiceUrl=self.url,
                    brokerServiceUrlTls=self.url if self.ssl_context is not None else None,
                    response=LookupType.Connect,
                    request_id=cmd.request_id,
                    authoritative=True,
                )
            )
        elif ctype == CommandType.PARTITIONED_METADATA:
            conn.send(
                CommandPartitionedTopicMetadataResponse(
                    partitions=self.partitions.get(cmd.topic, 0), request_id=cmd.request_id
                )
            )
        elif ctype == CommandType.PRODUCER:
            name = cmd.producer_name or f"fake-{conn.id}-{cmd.producer_id}"
            conn.producers[cmd.producer_id] = cmd.topic
            conn.send(
                CommandProducerSuccess(
                    request_id=cmd.request_id,
                    producer_name=name,
                    last_sequence_id=self.last_sequence_id,
                )
            )
        elif ctype == CommandType.SEND:
            self.record(conn, frame)
            if self.receipt_delay:
                time.sleep(self.receipt_delay)
            self.receipt(conn, frame)
        elif ctype == CommandType.CLOSE_PRODUCER:
            conn.producers.pop(cmd.producer_id, None)
            conn.send(CommandSuccess(request_id=cmd.request_id))

    # --- helpers for scripted handlers -------------------------------------------------------

    def record(self, conn: FakeConn, frame: Frame) -> Received:
        cmd = frame.command
        r = Received(
            conn.id,
            cmd.producer_id,
            cmd.sequence_id,
            cmd.num_messages or 1,
            cmd.highest_sequence_id,
            bool(cmd.is_chunk),
            frame.metadata,
            bytes(frame.payload) if frame.payload is not None else b"",
        )
        with self._lock:
            self.received.append(r)
        return r

    def receipt(self, conn: FakeConn, frame: Frame) -> None:
        cmd = frame.command
        with self._lock:
            self._entry += 1
            entry = self._entry
        conn.send(
            CommandSendReceipt(
                producer_id=cmd.producer_id,
                sequence_id=cmd.sequence_id,
                message_id=MessageIdData(ledgerId=7, entryId=entry),
                highest_sequence_id=cmd.highest_sequence_id,
            )
        )

    @staticmethod
    def send_error(conn: FakeConn, frame: Frame, error: ServerError, message: str) -> None:
        cmd = frame.command
        conn.send(
            CommandSendError(
                producer_id=cmd.producer_id,
                sequence_id=cmd.sequence_id,
                error=error,
                message=message,
            )
        )

    @staticmethod
    def close_producer(conn: FakeConn, producer_id: int) -> None:
        conn.send(CommandCloseProducer(producer_id=producer_id, request_id=999999))
