"""The dashboard served by uvicorn on loopback (a fake controller; no broker): the stream over
real HTTP, a viewer whose socket never reads, and a bounded stop with that viewer still there."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

import httpx
import pytest
from web_fake import FakeController

from pulsarload.errors import UserError
from pulsarload.web.server import WebServer
from support.waiting import eventually


def read_frames(url: str, count: int, out: list) -> None:
    """Read the stream until `count` live frames (after the first chunk) have arrived."""
    with httpx.Client(timeout=30) as client, client.stream("GET", url) as response:
        out.append(response.status_code)
        for line in response.iter_lines():
            if line.startswith("data: ") and '"seq":' in line:
                out.append(int(line.split('"seq":', 1)[1].split(",", 1)[0]))
                if len(out) > count + 1:
                    return


def test_stream_history_and_a_stalled_viewer() -> None:
    controller = FakeController()
    server = WebServer(controller, "127.0.0.1:0", queue_size=4)
    server.start()
    stalled = None
    base = controller.tick()
    seq = base.seq

    def push(n: int) -> None:
        nonlocal seq
        for _ in range(n):
            seq += 1
            server.hub._on_snapshot(dataclasses.replace(base, seq=seq))
            if seq % 50 == 0:
                time.sleep(0.005)  # let the loop drain (its inbox keeps the newest 64)

    try:
        # A viewer that asks for the stream and then never reads (a tiny receive buffer).
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        eventually(lambda: server.hub.viewers >= 1, 10, "the stalled viewer to connect")
        assert server.hub.viewers == 1
        push(8000)  # several MB of frames: far more than the socket buffers hold

        seen: list = []
        reader = threading.Thread(
            target=read_frames, args=(f"{server.url}api/stream", 30, seen), daemon=True
        )
        reader.start()
        for _ in range(3000):
            if not reader.is_alive():
                break
            push(1)
            time.sleep(0.01)  # a live pace, one frame at a time, while the reader connects
        reader.join(30)
        assert seen and seen[0] == 200
        live = seen[2:]  # after the status and the frame that came with the history
        assert len(live) >= 30 and live == sorted(live), live
        stalled_queue = next(q for q in server.hub._viewers if q.sent_bytes and q.dropped)
        assert len(stalled_queue) <= 4
        assert stalled_queue.dropped > 0  # it fell behind: older frames went, never the newest
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


def test_the_backlog_poller_says_why_it_has_no_rows() -> None:
    from types import SimpleNamespace

    from pulsarload.config import ConsumeSettings, resolve_settings
    from pulsarload.web.backlog import BacklogPoller

    settings = resolve_settings(
        ConsumeSettings, {"topic": "t", "admin_url": "http://127.0.0.1:9"}, environ={}
    )
    poller = BacklogPoller(SimpleNamespace(settings=settings), interval=0.05)
    assert poller()["state"] == "pending"
    poller.start()
    try:
        eventually(lambda: poller()["state"] == "unreachable", what="the unreachable state")
        assert poller()["rows"] == [] and poller()["error"]
    finally:
        poller.stop()
    pattern = resolve_settings(
        ConsumeSettings, {"pattern": "persistent://public/default/x-.*"}, environ={}
    )
    poller = BacklogPoller(SimpleNamespace(settings=pattern))
    poller.start()
    try:
        eventually(lambda: poller()["state"] == "unavailable", what="the unavailable state")
    finally:
        poller.stop()
