"""One broker connection: a socket, a reader thread, request-id futures, keep-alive.

Threads: the reader thread owns the `FrameParser` and is the only one that reads; it completes
request futures and hands producer- and consumer-scoped commands to the handler registered
under that id. Any thread may write: a lock around `sendall` is the only shared thing on the
send path (give busy producers their own connection with `connections_per_broker`).

Keep-alive without an extra thread: the socket's timeout is the keep-alive interval; when a
`recv` times out the reader sends PING, and if the next interval passes with no byte received,
the connection is declared dead and closed. Every handler then hears `connection_closed`.

Why it is this long: one connection's life is one job whose steps share the socket, the write
lock and the request table: open (TLS, CONNECT, the auth challenge), the reader loop and its
dispatch, request futures with their timeouts, keep-alive, and the close that fails every
waiter. What stands alone lives elsewhere: frames (wire/frames.py), the pool of connections
(connection_pool.py), lookups (lookup.py), authentication (auth.py).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pulsarload import __version__
from pulsarload.client.auth import Authentication
from pulsarload.client.errors import (
    AlreadyClosed,
    ConnectError,
    NotConnected,
    PulsarError,
    error_from_server,
)
from pulsarload.client.futures import PendingRequests, wait_future
from pulsarload.client.settings import ClientConfig
from pulsarload.client.urls import Address
from pulsarload.wire.commands import (
    CommandAuthChallenge,
    CommandAuthResponse,
    CommandConnect,
    CommandConnected,
    CommandError,
    CommandPing,
    CommandPong,
    CommandProducerSuccess,
    UnknownCommand,
)
from pulsarload.wire.enums import PROTOCOL_VERSION, CommandType
from pulsarload.wire.errors import ProtocolError
from pulsarload.wire.frames import DEFAULT_MAX_MESSAGE_SIZE, Frame, FrameParser, encode_command
from pulsarload.wire.messages import AuthData, FeatureFlags
from pulsarload.wire.protobuf import Message

__all__ = ["CLIENT_VERSION", "Connection", "Handler"]

log = logging.getLogger(__name__)

CLIENT_VERSION = f"pulsarload-{__version__}"
_RECV_SIZE = 256 * 1024

_PING_FRAME = encode_command(CommandPing())
_PONG_FRAME = encode_command(CommandPong())

# Commands answered through a request id (completed in the request table).
_RESPONSES = frozenset(
    {
        CommandType.SUCCESS,
        CommandType.PRODUCER_SUCCESS,
        CommandType.LOOKUP_RESPONSE,
        CommandType.PARTITIONED_METADATA_RESPONSE,
        CommandType.GET_LAST_MESSAGE_ID_RESPONSE,
        CommandType.GET_TOPICS_OF_NAMESPACE_RESPONSE,
        CommandType.ACK_RESPONSE,
        CommandType.GET_SCHEMA_RESPONSE,
        CommandType.GET_OR_CREATE_SCHEMA_RESPONSE,
    }
)
# Commands scoped to a producer id / a consumer id.
_PRODUCER_SCOPED = frozenset(
    {CommandType.SEND_RECEIPT, CommandType.SEND_ERROR, CommandType.CLOSE_PRODUCER}
)
_CONSUMER_SCOPED = frozenset(
    {
        CommandType.MESSAGE,
        CommandType.ACTIVE_CONSUMER_CHANGE,
        CommandType.REACHED_END_OF_TOPIC,
        CommandType.CLOSE_CONSUMER,
    }
)


class Handler(Protocol):
    """What a producer or consumer registers on a connection."""

    def handle_frame(self, frame: Frame) -> None:
        """A command for this producer/consumer id (runs on the reader thread: be quick)."""

    def connection_closed(self, connection: Connection) -> None:
        """The connection is gone; reconnect elsewhere (runs on the reader thread)."""


class _PlainTransport:
    """A TCP socket as is."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.recv = sock.recv
        self.sendall = sock.sendall  # callers hold the connection's write lock


class _TlsTransport:
    """TLS through `ssl.MemoryBIO`, safe with one reader and many writers.

    An OpenSSL connection must not be used by two threads at once, yet the reader blocks in
    `recv` while producers write. So the raw socket does the blocking I/O outside any TLS
    state, and every SSLObject call (encrypt, decrypt, drain) happens under `lock`. Encrypted
    bytes are drained and written only under the connection's write lock, so records leave in
    the order OpenSSL made them.
    """

    def __init__(
        self,
        sock: socket.socket,
        ctx: ssl.SSLContext,
        server_hostname: str,
        write_lock: threading.Lock,
    ) -> None:
        self.sock = sock
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        self._lock = threading.Lock()
        self._write_lock = write_lock

    def handshake(self, deadline: float) -> None:
        """The TLS handshake, within `deadline` (raises TimeoutError / ssl.SSLError)."""
        while True:
            try:
                with self._lock:
                    self._obj.do_handshake()
                    out = self._out.read()
                if out:
                    self.sock.sendall(out)
                return
            except ssl.SSLWantReadError:
                with self._lock:
                    out = self._out.read()
                if out:
                    self.sock.sendall(out)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("TLS handshake timed out") from None
                self.sock.settimeout(left)
                raw = self.sock.recv(_RECV_SIZE)
                if not raw:
                    raise ConnectionError("connection closed during the TLS handshake") from None
                with self._lock:
                    self._in.write(raw)

    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and write (the caller holds the connection's write lock)."""
        with self._lock:
            self._obj.write(data)
            out = self._out.read()
        self.sock.sendall(out)

    def recv(self, size: int) -> bytes:
        """Decrypted bytes; b"" at the end of the stream; TimeoutError as the raw socket."""
        while True:
            with self._lock:
                try:
                    data = self._obj.read(size)
                except ssl.SSLWantReadError:
                    data = b""
                except ssl.SSLZeroReturnError:
                    return b""
                pending = self._out.pending
            if pending:  # TLS 1.3 post-handshake messages may need an answer
                with self._write_lock:
                    with self._lock:
                        out = self._out.read()
                    if out:
                        self.sock.sendall(out)
            if data:
                return data
            raw = self.sock.recv(size)
            if not raw:
                return b""
            with self._lock:
                self._in.write(raw)


class Connection:
    """A connected, handshaken broker connection. Create with `Connection.open(...)`."""

    def __init__(
        self,
        logical: Address,
        physical: Address,
        config: ClientConfig,
        authentication: Authentication | None = None,
    ) -> None:
        self.logical = logical
        self.physical = physical
        self.config = config
        self.auth = authentication or Authentication()
        #: Bytes and frames moved on this connection: plain ints, each with one writer at a
        #: time (`*_in`: the reader thread; `*_out`: whoever holds the write lock), so counting
        #: costs one add per socket call and no lock. Under TLS they count Pulsar's bytes
        #: before encryption (the TLS handshake and record framing are not included).
        self.bytes_in = 0
        self.bytes_out = 0
        self.frames_in = 0
        self.frames_out = 0
        self.max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        self.server_version = ""
        self.protocol_version = 0
        self.requests = PendingRequests()
        self._producers: dict[int, Handler] = {}
        self._consumers: dict[int, Handler] = {}
        self._close_listeners: list[Callable[[Connection], None]] = []
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._transport: _PlainTransport | _TlsTransport | None = None
        self._parser = FrameParser()
        self._reader: threading.Thread | None = None
        self._closed = threading.Event()
        self._close_done = threading.Event()  # set once every handler has heard of the close
        self.close_reason: BaseException | None = None
        self.created_at = time.monotonic()

    def __repr__(self) -> str:
        via = f" via {self.physical}" if self.physical != self.logical else ""
        state = "closed" if self.closed else "open"
        return f"<Connection {self.logical}{via} {state}>"

    # --- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        logical: Address,
        physical: Address,
        config: ClientConfig,
        authentication: Authentication | None = None,
    ) -> Connection:
        """Connect, handshake (CONNECT/CONNECTED) and start the reader thread.

        Raises `ConnectError` naming the address when the socket, TLS or handshake fails or
        the connect timeout passes; a broker `ERROR` reply raises its mapped error.
        """
        conn = cls(logical, physical, config, authentication)
        conn._open()
        return conn

    def _open(self) -> None:
        timeout = self.config.connection_timeout_ms / 1000.0
        deadline = time.monotonic() + timeout
        address = self.physical
        try:
            sock = socket.create_connection((address.host, address.port), timeout=timeout)
        except TimeoutError:
            raise ConnectError(
                f"cannot connect to {address}: timed out after {timeout:g} s", str(address)
            ) from None
        except OSError as err:
            raise ConnectError(
                f"cannot connect to {address}: {err.strerror or err}", str(address)
            ) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            if self.config.tls:
                self._transport = self._wrap_tls(sock, deadline)
            else:
                self._transport = _PlainTransport(sock)
            self._handshake(sock, deadline)
        except BaseException:
            sock.close()
            self._sock = None
            self._transport = None
            raise
        # The socket timeout doubles as the keep-alive tick (see the module docstring).
        sock.settimeout(self.config.keep_alive_interval_seconds)
        self._reader = threading.Thread(
            target=self._read_loop, name=f"pulsar-reader-{self.physical}", daemon=True
        )
        self._reader.start()

    def _wrap_tls(self, sock: socket.socket, deadline: float) -> _TlsTransport:
        cfg = self.config
        address = self.physical
        try:
            ctx = ssl.create_default_context(cafile=cfg.tls_trust_certs_file_path)
        except (OSError, ssl.SSLError) as err:
            failure = ConnectError(
                f"TLS with {address}: cannot load tls_trust_certs_file_path "
                f"{cfg.tls_trust_certs_file_path!r}: {err}",
                str(address),
            )
            failure.retriable = False  # a missing or broken CA file stays so on a retry
            raise failure from None
        cert = cfg.tls_certificate_file_path or self.auth.tls_certificate_file_path
        key = cfg.tls_private_key_file_path or self.auth.tls_private_key_file_path
        if cert and key:
            try:
                ctx.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as err:
                failure = ConnectError(
                    f"TLS with {address}: cannot load the client certificate {cert!r} / key "
                    f"{key!r}: {err}",
                    str(address),
                )
                failure.retriable = False
                raise failure from None
        if cfg.tls_allow_insecure_connection:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx.check_hostname = bool(cfg.tls_validate_hostname)
        transport = _TlsTransport(sock, ctx, address.host, self._write_lock)
        try:
            transport.handshake(deadline)
        except (OSError, ssl.SSLError) as err:
            failure = ConnectError(f"TLS handshake with {address} failed: {err}", str(address))
            if isinstance(err, ssl.SSLCertVerificationError):
                failure.retriable = False  # a certificate that fails to verify will fail again
            raise failure from None
        return transport

    def _connect_command(self) -> CommandConnect:
        data = self.auth.auth_data()
        # The proxy wants the target broker as `host:port` (what the official clients send); it
        # resolves and validates that, and refuses a whole `pulsar://` URL as an unknown host.
        proxy_to = str(self.logical) if self.logical != self.physical else None
        return CommandConnect(
            client_version=CLIENT_VERSION,
            auth_method_name=self.auth.method_name or None,
            auth_data=data or None,
            protocol_version=PROTOCOL_VERSION,
            proxy_to_broker_url=proxy_to,
            feature_flags=FeatureFlags(supports_auth_refresh=True),
        )

    def _handshake(self, sock: socket.socket, deadline: float) -> None:
        address = self.physical
        transport = self._transport
        assert transport is not None
        self._write_raw(encode_command(self._connect_command()))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectError(
                    f"cannot connect to {address}: no CONNECTED within "
                    f"{self.config.connection_timeout_ms / 1000:g} s",
                    str(address),
                )
            sock.settimeout(left)
            try:
                data = transport.recv(_RECV_SIZE)
            except TimeoutError:
                continue
            except OSError as err:
                raise ConnectError(f"cannot connect to {address}: {err}", str(address)) from None
            if not data:
                raise ConnectError(
                    f"cannot connect to {address}: connection closed during handshake",
                    str(address),
                )
            self.bytes_in += len(data)
            try:
                frames = self._parser.feed(data)
            except ProtocolError as err:
                raise ConnectError(
                    f"cannot connect to {address}: bad handshake reply ({err})", str(address)
                ) from None
            for frame in frames:
                self.frames_in += 1
                cmd = frame.command
                if isinstance(cmd, CommandConnected):
                    self.server_version = cmd.server_version
                    self.protocol_version = cmd.protocol_version or 0
                    if cmd.max_message_size:
                        self.max_message_size = cmd.max_message_size
                        self._parser.max_message_size = cmd.max_message_size
                    return
                if isinstance(cmd, CommandError):
                    err = error_from_server(cmd.error, f"{cmd.message} (connecting to {address})")
                    raise err
                if isinstance(cmd, CommandAuthChallenge):
                    self._write_raw(self._auth_response())
                elif isinstance(cmd, CommandPing):
                    self._write_raw(_PONG_FRAME)

    def _auth_response(self) -> bytes:
        return encode_command(
            CommandAuthResponse(
                client_version=CLIENT_VERSION,
                response=AuthData(
                    auth_method_name=self.auth.method_name or "none",
                    auth_data=self.auth.auth_data(),
                ),
                protocol_version=PROTOCOL_VERSION,
            )
        )

    def _write_raw(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        with self._write_lock:
            transport.sendall(data)
            self.bytes_out += len(data)
            self.frames_out += 1

    # --- state -----------------------------------------------------------------------------------

    def byte_counts(self) -> tuple[int, int]:
        """(bytes in, bytes out) so far, read without a lock (each may be one call behind)."""
        return self.bytes_in, self.bytes_out

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until closed and every handler and listener has been told."""
        return self._close_done.wait(timeout)

    def add_close_listener(self, listener: Callable[[Connection], None]) -> None:
        """Call `listener(conn)` once when the connection closes (at once if already closed)."""
        with self._state_lock:
            if not self._closed.is_set():
                self._close_listeners.append(listener)
                return
        listener(self)

    def register_producer(self, producer_id: int, handler: Handler) -> None:
        self._register(self._producers, producer_id, handler)

    def unregister_producer(self, producer_id: int, handler: Handler | None = None) -> None:
        self._unregister(self._producers, producer_id, handler)

    def register_consumer(self, consumer_id: int, handler: Handler) -> None:
        self._register(self._consumers, consumer_id, handler)

    def unregister_consumer(self, consumer_id: int, handler: Handler | None = None) -> None:
        self._unregister(self._consumers, consumer_id, handler)

    def _register(self, table: dict[int, Handler], key: int, handler: Handler) -> None:
        with self._state_lock:
            if not self._closed.is_set():
                table[key] = handler
                return
        raise NotConnected(f"connection to {self.logical} is closed: {self.close_reason}")

    def _unregister(self, table: dict[int, Handler], key: int, handler: Handler | None) -> None:
        with self._state_lock:
            if handler is None or table.get(key) is handler:
                table.pop(key, None)

    # --- writing ---------------------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Write one whole frame (or several, concatenated). Raises `NotConnected` if closed."""
        transport = self._transport
        with self._write_lock:
            if self._closed.is_set() or transport is None:
                raise NotConnected(f"connection to {self.logical} is closed: {self.close_reason}")
            try:
                transport.sendall(data)
            except (OSError, ssl.SSLError) as err:
                failure = NotConnected(f"write to {self.physical} failed: {err}")
            else:
                self.bytes_out += len(data)
                self.frames_out += 1
                return
        self.close(failure)
        raise failure

    def send_command(self, cmd: Message) -> None:
        self.send(encode_command(cmd))

    def request(
        self,
        make: Callable[[int], Message],
        what: str,
        timeout: float | None = -1.0,
    ) -> Any:
        """Send `make(request_id)` and wait for its answer (the response command).

        `timeout` -1 means the client's operation timeout; None waits without limit. A broker
        ERROR raises its mapped exception; a timeout raises `TimeoutError` naming `what`.
        """
        if timeout is not None and timeout < 0:
            timeout = self.config.operation_timeout_seconds
        request_id, fut = self.requests.new()
        try:
            self.send_command(make(request_id))
            return wait_future(fut, timeout, f"{what} on {self.logical}")
        finally:
            self.requests.forget(request_id)

    # --- reading ---------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        transport = self._transport
        assert transport is not None
        parser = self._parser
        recv = transport.recv
        ping_sent = False
        reason: BaseException | None = None
        try:
            while not self._closed.is_set():
                try:
                    data = recv(_RECV_SIZE)
                except TimeoutError:
                    if ping_sent:
                        reason = NotConnected(
                            f"no traffic from {self.physical} within "
                            f"{self.config.keep_alive_interval_seconds:g} s of a PING"
                        )
                        break
                    ping_sent = True
                    self.send(_PING_FRAME)
                    continue
                if not data:
                    reason = NotConnected(f"{self.physical} closed the connection")
                    break
                ping_sent = False
                self.bytes_in += len(data)
                for frame in parser.feed(data):
                    self.frames_in += 1
                    self._dispatch(frame)
        except PulsarError as err:
            reason = err
        except ProtocolError as err:
            reason = NotConnected(f"protocol error from {self.physical}: {err}")
        except OSError as err:
            if not self._closed.is_set():
                reason = NotConnected(f"read from {self.physical} failed: {err}")
        except Exception as err:  # a handler bug must not leave the connection half-alive
            log.exception("reader thread of %s failed", self)
            reason = NotConnected(f"reader of {self.physical} failed: {err!r}")
        self.close(reason)

    def _dispatch(self, frame: Frame) -> None:
        cmd = frame.command
        if isinstance(cmd, UnknownCommand):
            log.debug("ignoring unknown command type %s from %s", cmd.type, self.physical)
            return
        ctype = cmd.TYPE  # type: ignore[attr-defined]
        if ctype in _PRODUCER_SCOPED:
            handler = self._producers.get(cmd.producer_id)  # type: ignore[attr-defined]
            if handler is not None:
                handler.handle_frame(frame)
            return
        if ctype in _CONSUMER_SCOPED:
            handler = self._consumers.get(cmd.consumer_id)  # type: ignore[attr-defined]
            if handler is not None:
                handler.handle_frame(frame)
            return
        if ctype in _RESPONSES:
            if isinstance(cmd, CommandProducerSuccess) and cmd.producer_ready is False:
                # WaitForExclusive: queued; a second PRODUCER_SUCCESS follows when ready.
                return
            self.requests.complete(cmd.request_id, cmd)  # type: ignore[attr-defined]
        elif ctype == CommandType.ERROR:
            self.requests.fail(cmd.request_id, error_from_server(cmd.error, cmd.message))
        elif ctype == CommandType.PING:
            self.send(_PONG_FRAME)
        elif ctype == CommandType.PONG:
            pass
        elif ctype == CommandType.AUTH_CHALLENGE:
            self.send(self._auth_response())
        else:
            log.debug("ignoring %s from %s", CommandType(ctype).name, self.physical)

    # --- closing ---------------------------------------------------------------------------------

    def close(self, reason: BaseException | None = None) -> None:
        """Close the socket, fail waiting requests, tell every handler. Idempotent."""
        with self._state_lock:
            if self._closed.is_set():
                return
            self.close_reason = reason or AlreadyClosed(f"connection to {self.logical} closed")
            self._closed.set()
            producers = list(self._producers.values())
            consumers = list(self._consumers.values())
            self._producers.clear()
            self._consumers.clear()
            listeners, self._close_listeners = self._close_listeners, []
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        failure = (
            reason
            if isinstance(reason, NotConnected)
            else NotConnected(f"connection to {self.logical} closed: {self.close_reason}")
        )
        self.requests.close(failure)
        if reason is not None:
            log.info("connection to %s closed: %s", self.physical, reason)
        for handler in (*producers, *consumers):
            try:
                handler.connection_closed(self)
            except Exception:
                log.exception("connection_closed handler failed")
        for listener in listeners:
            try:
                listener(self)
            except Exception:
                log.exception("close listener failed")
        self._close_done.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the reader thread to end (after `close`)."""
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)
