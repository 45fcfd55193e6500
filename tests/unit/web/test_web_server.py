"""The dashboard served by uvicorn on loopback (a fake controller; no broker): the stream over
real HTTP, a viewer whose socket never reads, and a bounded stop with that viewer still there."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from pulsarload.errors import UserError
from pulsarload.web.server import WebServer

from web_fake import FakeController


def read_events(url: str, want_seq: int, stop: threading.Event, out: list) -> None:
    with httpx.Client(timeout=30) as client, client.stream("GET", url) as response:
        out.append(response.status_code)
        for line in response.iter_lines():
            if line.startswith("data: ") and '"seq":' in line:
                seq = int(line.split('"seq":', 1)[1].split(",", 1)[0])
                out.append(seq)
                if seq >= want_seq:
                    return
            if stop.is_set():
                return


def test_stream_history_and_a_stalled_viewer() -> None:
    controller = FakeController()
    server = WebServer(controller, "127.0.0.1:0", queue_size=4)
    server.start()
    stalled = None
    try:
        for _ in range(20):
            controller.tick()
        # A viewer that asks for the stream and then never reads (a tiny receive buffer).
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        deadline = time.monotonic() + 10
        while server.hub.viewers < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.hub.viewers == 1

        last = 0
        for _ in range(6000):  # ~ 10 minutes of frames, pushed as fast as the hub takes them
            last = controller.tick().seq
        seen: list = []
        stop = threading.Event()
        reader = threading.Thread(
            target=read_events, args=(f"{server.url}api/stream", last + 5, stop, seen)
        )
        reader.start()
        for _ in range(200):
            if reader.is_alive():
                last = controller.tick().seq
                time.sleep(0.01)
        stop.set()
        reader.join(30)
        assert seen and seen[0] == 200
        assert max(seen[1:]) >= last - 10, seen[-5:]
        queues = list(server.hub._viewers)
        assert all(len(q) <= 4 for q in queues)
        assert any(q.dropped > 0 for q in queues), [q.dropped for q in queues]
    finally:
        thread = server._thread
        server.stop()  # bounded: the streams end first, the server then force-exits if need be
        if stalled is not None:
            stalled.close()
    assert thread is not None and not thread.is_alive()


def test_a_taken_port_is_one_line() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        port = holder.getsockname()[1]
        with pytest.raises(UserError, match="cannot listen"):
            WebServer(FakeController(), f"127.0.0.1:{port}")
    finally:
        holder.close()
