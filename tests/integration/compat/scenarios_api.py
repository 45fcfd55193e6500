"""The official client's newer and lesser-used API, written as programs for the official client:
names (message ids, exception classes, authentication providers), shutdown, tombstones, the
asyncio client and reader, end-to-end encryption."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading
import time
from typing import Any

#: The exception classes `pulsar.exceptions` exports in pulsar-client 3.13.
OFFICIAL_EXCEPTIONS = [
    "PulsarException",
    "UnknownError",
    "InvalidConfiguration",
    "Timeout",
    "LookupError",
    "ConnectError",
    "ReadError",
    "AuthenticationError",
    "AuthorizationError",
    "ErrorGettingAuthenticationData",
    "BrokerMetadataError",
    "BrokerPersistenceError",
    "ChecksumError",
    "ConsumerBusy",
    "NotConnected",
    "AlreadyClosed",
    "InvalidMessage",
    "ConsumerNotInitialized",
    "ProducerNotInitialized",
    "ProducerBusy",
    "TooManyLookupRequestException",
    "InvalidTopicName",
    "InvalidUrl",
    "ServiceUnitNotReady",
    "OperationNotSupported",
    "ProducerBlockedQuotaExceededError",
    "ProducerBlockedQuotaExceededException",
    "ProducerQueueIsFull",
    "MessageTooBig",
    "TopicNotFound",
    "SubscriptionNotFound",
    "ConsumerNotFound",
    "UnsupportedVersionError",
    "TopicTerminated",
    "CryptoError",
    "IncompatibleSchema",
    "ConsumerAssignError",
    "CumulativeAcknowledgementNotAllowedError",
    "TransactionCoordinatorNotFoundError",
    "InvalidTxnStatusError",
    "NotAllowedError",
    "TransactionConflict",
    "TransactionNotFound",
    "ProducerFenced",
    "MemoryBufferIsFull",
    "Interrupted",
]


def _kind(pulsar: Any, err: BaseException) -> str:
    """The official name of an exception's class (ours may have another name for it too)."""
    for name in OFFICIAL_EXCEPTIONS:
        if type(err) is getattr(pulsar, name, None):
            return name
    return type(err).__name__


def _fields(mid: Any) -> list[int]:
    return [mid.ledger_id(), mid.entry_id(), mid.partition(), mid.batch_index()]


def names(pulsar: Any, env: Any) -> dict[str, Any]:
    """Exception names; MessageId.earliest/latest/wrap/deserialize(topic=); acking bare ids
    deserialized with their topic on a multi-topic consumer."""
    exceptions = importlib.import_module(pulsar.__name__ + ".exceptions")
    out: dict[str, Any] = {
        "missing": [n for n in OFFICIAL_EXCEPTIONS if not hasattr(pulsar, n)],
        "missing_in_exceptions": [n for n in OFFICIAL_EXCEPTIONS if not hasattr(exceptions, n)],
        "not_pulsar_exception": [
            n
            for n in OFFICIAL_EXCEPTIONS
            if hasattr(pulsar, n) and not issubclass(getattr(pulsar, n), pulsar.PulsarException)
        ],
    }
    t1, t2 = env.topic("n1"), env.topic("n2")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        for t in (t1, t2):
            p = client.create_producer(t)
            p.send(f"first {t[-4:]}".encode())
            p.send(b"second")
            p.close()
        earliest = client.create_reader(t1, pulsar.MessageId.earliest)
        out["earliest_first"] = earliest.read_next(30000).data().decode().startswith("first")
        latest = client.create_reader(t1, pulsar.MessageId.latest)
        try:
            latest.read_next(500)
            out["latest_reads_old"] = True
        except pulsar.Timeout as err:
            out["latest_reads_old"] = False
            out["timeout_is_pulsar_exception"] = isinstance(err, pulsar.PulsarException)
        earliest.close()
        latest.close()

        consumer = client.subscribe(
            [t1, t2], "sub", initial_position=pulsar.InitialPosition.Earliest
        )
        same = []
        for _ in range(4):
            msg = consumer.receive(30000)
            mid = msg.message_id()
            restored = pulsar.MessageId.deserialize(mid.serialize(), topic=msg.topic_name())
            wrapped = pulsar.MessageId.wrap(restored)
            same.append(_fields(wrapped) == _fields(mid) and wrapped == pulsar.MessageId.wrap(mid))
            consumer.acknowledge(restored)
        out["round_trip_equal"] = same
        consumer.close()
        again = client.subscribe([t1, t2], "sub")
        try:
            again.receive(1500)
            out["acked_by_restored_ids"] = False
        except pulsar.Timeout:
            out["acked_by_restored_ids"] = True
        again.close()
    finally:
        client.close()
    return out


def shutdown(pulsar: Any, env: Any) -> dict[str, Any]:
    """`Client.shutdown()`: what producers and consumers do after it, and which of the
    client's Python threads are left (the official client's own are C++ threads)."""
    before = set(threading.enumerate())
    topic = env.topic("sd")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    producer = client.create_producer(topic)
    consumer = client.subscribe(topic, "sub")
    producer.send(b"x")
    client.shutdown()
    out: dict[str, Any] = {}
    try:
        producer.send(b"y")
        out["send_after"] = None
    except Exception as err:  # noqa: BLE001 - the class is the outcome
        out["send_after"] = _kind(pulsar, err)
    try:
        consumer.receive(200)
        out["receive_after"] = None
    except Exception as err:  # noqa: BLE001
        out["receive_after"] = _kind(pulsar, err)
    deadline = time.monotonic() + 10
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [t for t in left if t.is_alive()]
    out["threads_left"] = [t.name for t in left]
    return out


def listener_name(pulsar: Any, env: Any) -> dict[str, Any]:
    """A lookup that names an advertised listener the broker does not have fails; none works."""
    topic = env.topic("ln")
    out: dict[str, Any] = {}
    for name in (None, "no-such-listener"):
        client = pulsar.Client(env.service_url, operation_timeout_seconds=8, listener_name=name)
        try:
            client.create_producer(topic).close()
            out[str(name)] = "ok"
        except pulsar.PulsarException as err:
            out[str(name)] = _kind(pulsar, err)
        finally:
            client.close()
    return out


def auth_providers(pulsar: Any, env: Any) -> dict[str, Any]:
    """The official provider constructors (a broker without authentication accepts any)."""
    topic = env.topic("auth")
    cert, key = env.args["cert"], env.args["key"]
    providers = {
        "token": pulsar.AuthenticationToken("abc"),
        "token_plugin": pulsar.Authentication("token", "token:abc"),
        "basic": pulsar.AuthenticationBasic("user", "secret"),
        "basic_json": pulsar.AuthenticationBasic(
            auth_params_string='{"username": "user", "password": "secret"}'
        ),
        "basic_plugin": pulsar.Authentication(
            "org.apache.pulsar.client.impl.auth.AuthenticationBasic",
            '{"username": "user", "password": "secret"}',
        ),
        "tls": pulsar.AuthenticationTLS(cert, key),
        "tls_plugin": pulsar.Authentication("tls", f"tlsCertFile:{cert},tlsKeyFile:{key}"),
    }
    out = {}
    for name, auth in providers.items():
        client = pulsar.Client(env.service_url, authentication=auth, operation_timeout_seconds=30)
        try:
            p = client.create_producer(topic)
            p.send(name.encode())
            p.close()
            out[name] = "ok"
        except pulsar.PulsarException as err:
            out[name] = _kind(pulsar, err)
        finally:
            client.close()
    return out


def tombstones(pulsar: Any, env: Any) -> dict[str, Any]:
    """`send(None)` is a null-value message, batched or not; `has_null_value()` tells it."""
    topic = env.args.get("topic") or env.topic("tomb")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    got = []
    try:
        consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        for batching in (False, True):
            producer = client.create_producer(topic, batching_enabled=batching)
            producer.send(b"v1", partition_key="k")
            producer.send(None, partition_key="k")
            producer.send_async(None, lambda res, mid: None, partition_key="k2")
            producer.flush()
            producer.close()
        for _ in range(6):
            msg = consumer.receive(30000)
            got.append([msg.data().decode(), msg.has_null_value(), msg.partition_key()])
            consumer.acknowledge(msg)
        consumer.close()
    finally:
        client.close()
    return {"topic": topic, "received": got}


def read_tombstones(pulsar: Any, env: Any) -> list[list[Any]]:
    """Read what `tombstones` wrote (the other client's messages) from the start."""
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        reader = client.create_reader(env.args["topic"], pulsar.MessageId.earliest)
        got = []
        for _ in range(6):
            msg = reader.read_next(30000)
            got.append([msg.data().decode(), msg.has_null_value(), msg.partition_key()])
        reader.close()
    finally:
        client.close()
    return got


def asyncio_client(pulsar: Any, env: Any) -> dict[str, Any]:
    """The asyncio producer, consumer and reader; a receive that waits; a failure's code."""
    aio = importlib.import_module(pulsar.__name__ + ".asyncio")
    topic = env.topic("aio")

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        client = aio.Client(env.service_url, operation_timeout_seconds=30)
        try:
            consumer = await client.subscribe(
                topic, "sub", initial_position=pulsar.InitialPosition.Earliest
            )
            producer = await client.create_producer(topic)
            ids = [
                await producer.send(f"a-{i}".encode(), properties={"i": str(i)}) for i in range(5)
            ]
            await producer.flush()
            out["ids_distinct"] = len({str(i) for i in ids})
            got = []
            for _ in range(5):
                msg = await consumer.receive()
                got.append([msg.data().decode(), msg.properties()])
                await consumer.acknowledge(msg)
            out["received"] = got
            waiting = asyncio.ensure_future(consumer.receive())
            await asyncio.sleep(0.3)
            out["waited"] = not waiting.done()
            await producer.send(b"late")
            out["late"] = (await asyncio.wait_for(waiting, 30)).data().decode()
            await consumer.acknowledge_cumulative(await _send_and_receive(producer, consumer))
            try:
                await client.subscribe(topic, "sub")  # Exclusive and already taken
                out["busy"] = None
            except aio.PulsarException as err:
                out["busy"] = err.error().name
            reader = await client.create_reader(topic, pulsar.MessageId.earliest)
            out["read"] = [(await reader.read_next()).data().decode() for _ in range(7)]
            out["has_more"] = await reader.has_message_available()
            await reader.close()
            await producer.close()
            await consumer.close()
        finally:
            await client.close()
        return out

    return asyncio.run(main())


async def _send_and_receive(producer: Any, consumer: Any) -> Any:
    await producer.send(b"one-more")
    return await consumer.receive()


def asyncio_cancelled_receive(pulsar: Any, env: Any) -> dict[str, Any]:
    """A receive cancelled while it waits must not swallow the next message."""
    aio = importlib.import_module(pulsar.__name__ + ".asyncio")
    topic = env.topic("aioc")

    async def main() -> dict[str, Any]:
        client = aio.Client(env.service_url, operation_timeout_seconds=30)
        try:
            consumer = await client.subscribe(topic, "sub")
            producer = await client.create_producer(topic)
            task = asyncio.ensure_future(consumer.receive())
            await asyncio.sleep(0.3)
            task.cancel()
            await producer.send(b"after-cancel")
            try:
                msg = await asyncio.wait_for(consumer.receive(), float(env.args.get("wait", 10)))
                got = msg.data().decode()
            except TimeoutError:
                got = None
            await producer.close()
            await consumer.close()
        finally:
            await client.close()
        return {"got": got}

    return asyncio.run(main())


def encrypt_produce(pulsar: Any, env: Any) -> list[str]:
    """Encrypted messages (batched or not, compressed) for the key pair in args."""
    a = env.args
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        reader = pulsar.CryptoKeyReader(a["public"], a["private"])
        producer = client.create_producer(
            a["topic"],
            encryption_key="pulsarload-test-key",
            crypto_key_reader=reader,
            batching_enabled=bool(a["batching"]),
            compression_type=pulsar.CompressionType.LZ4,
        )
        sent = [f"secret-{i}-" * (1 + 40 * i) for i in range(3)]
        for i, text in enumerate(sent):
            producer.send(text.encode(), properties={"i": str(i)}, partition_key=f"k{i}")
        producer.flush()
        producer.close()
    finally:
        client.close()
    return sent


def decrypt_consume(pulsar: Any, env: Any) -> dict[str, Any]:
    """Read the encrypted topic with a key reader, and as a consumer without one."""
    a = env.args
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    out: dict[str, Any] = {}
    try:
        consumer = client.subscribe(
            a["topic"],
            env.name("dec"),
            initial_position=pulsar.InitialPosition.Earliest,
            crypto_key_reader=pulsar.CryptoKeyReader(a["public"], a["private"]),
        )
        got = []
        for _ in range(3):
            msg = consumer.receive(30000)
            ctx = msg.encryption_context()
            got.append(
                {
                    "data": msg.data().decode(),
                    "properties": msg.properties(),
                    "key": msg.partition_key(),
                    "keys": [k.key for k in ctx.keys()],  # noqa: SIM118 - not a dict
                    "param_len": len(ctx.param()),
                    "failed": ctx.is_decryption_failed(),
                }
            )
            consumer.acknowledge(msg)
        consumer.close()
        out["decrypted"] = got
        raw = client.subscribe(
            a["topic"],
            env.name("raw"),
            initial_position=pulsar.InitialPosition.Earliest,
            crypto_failure_action=pulsar.ConsumerCryptoFailureAction.CONSUME,
        )
        msg = raw.receive(30000)
        ctx = msg.encryption_context()
        out["consume_undecrypted"] = {
            "failed": ctx.is_decryption_failed(),
            "compression": ctx.compression_type().name,
            "batch_size": ctx.batch_size(),
            "plaintext_visible": b"secret" in msg.data(),
        }
        raw.close()
    finally:
        client.close()
    return out


def auth_secured(pulsar: Any, env: Any) -> dict[str, Any]:
    """Basic, TLS-certificate and plugin-named token authentication against a broker that
    checks them (the LOADER role may produce and consume on public/default)."""
    a = env.args
    topic = env.topic("sec")
    tls = {"tls_trust_certs_file_path": a["ca"]}
    cases = {
        "basic": (a["plain_url"], pulsar.AuthenticationBasic(a["user"], a["password"]), {}),
        "basic_wrong_password": (
            a["plain_url"],
            pulsar.AuthenticationBasic(a["user"], a["password"] + "x"),
            {},
        ),
        "tls_certificate": (a["tls_url"], pulsar.AuthenticationTLS(a["cert"], a["key"]), tls),
        "tls_plugin": (
            a["tls_url"],
            pulsar.Authentication("tls", f"tlsCertFile:{a['cert']},tlsKeyFile:{a['key']}"),
            tls,
        ),
        "token_plugin": (a["plain_url"], pulsar.Authentication("token", "token:" + a["token"]), {}),
        "none": (a["plain_url"], None, {}),
    }
    out = {}
    for name, (url, auth, extra) in cases.items():
        client = pulsar.Client(url, authentication=auth, operation_timeout_seconds=15, **extra)
        try:
            producer = client.create_producer(topic)
            producer.send(name.encode())
            producer.close()
            out[name] = "ok"
        except pulsar.PulsarException as err:
            out[name] = _kind(pulsar, err)
        finally:
            client.close()
    return out


class _Forwarder:
    """A TCP forwarder on a fixed loopback port to the broker: a second 'cluster' that can be
    switched off and on (lookups still answer with the broker's own address)."""

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port, self.upstream = port, upstream
        self._socks: list[Any] = []
        self._listener: Any = None

    def start(self) -> None:
        import socket

        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener: Any) -> None:
        import socket

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.close()

    def stop(self) -> None:
        import socket

        self._listener.close()
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self._socks = []


def cluster_failover(pulsar: Any, env: Any) -> dict[str, Any]:
    """AutoClusterFailover: a primary that goes away and comes back, the broker as secondary.
    Records which service the client reports, and whether sends work, at each step."""
    from urllib.parse import urlparse

    broker = urlparse(env.service_url)
    port = int(env.args["port"])
    primary = pulsar.ServiceInfo(f"pulsar://127.0.0.1:{port}")
    secondary = pulsar.ServiceInfo(env.service_url)
    forwarder = _Forwarder(port, (broker.hostname, broker.port))
    forwarder.start()
    failover = pulsar.AutoClusterFailover(primary, [secondary], check_interval_ms=200)
    client = pulsar.Client(failover, operation_timeout_seconds=30)
    topic = env.topic("fo")
    steps: list[list[Any]] = []

    def wait_for(url: str) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = client.get_service_info().service_url
            if now == url:
                return now
            time.sleep(0.1)
        return client.get_service_info().service_url

    try:
        producer = client.create_producer(topic)
        steps.append(
            ["start", client.get_service_info().service_url, str(producer.send(b"1")) != ""]
        )
        forwarder.stop()
        steps.append(
            ["primary down", wait_for(secondary.service_url), str(producer.send(b"2")) != ""]
        )
        forwarder.start()
        steps.append(
            ["primary back", wait_for(primary.service_url), str(producer.send(b"3")) != ""]
        )
        producer.close()
    finally:
        client.close()
        forwarder.stop()
    return {"primary": primary.service_url, "secondary": secondary.service_url, "steps": steps}
