"""`--web [HOST:]PORT`: the browser dashboard served by uvicorn on a thread of the run.

The socket is bound before the load starts (a taken port is one line, not a run that then
fails), uvicorn runs its event loop on its own thread, and `stop()` ends every stream and the
server within a bounded time. Access log off: requests never carry the token in their URL,
and the run's output is status lines, not HTTP chatter.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from pulsarload.config import WEB_MAX_VIEWERS, WEB_VIEWER_QUEUE
from pulsarload.errors import UserError
from pulsarload.web.access import AccessPolicy, parse_address, policy_for
from pulsarload.web.app import create_app
from pulsarload.web.backlog import BacklogPoller
from pulsarload.web.hub import ControllerLike, SnapshotHub

START_TIMEOUT_S = 30.0  # generous: a loaded machine imports and binds slowly
STOP_TIMEOUT_S = 5.0


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port, or a UserError saying what to do."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise UserError(f"--web {host}:{port}: cannot resolve {host!r} ({err.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        hint = "; choose another port (0 picks a free one)" if port else ""
        raise UserError(
            f"--web {host}:{port}: cannot listen ({err.strerror or err}){hint}"
        ) from None
    sock.set_inheritable(True)
    return sock


class WebServer:
    """One controller's browser dashboard: `start()`, `url`, `stop()`."""

    def __init__(
        self,
        controller: ControllerLike,
        address: str,
        *,
        token: str | None = None,
        view_without_token: bool = False,
        history_s: float = 900.0,
        queue_size: int = WEB_VIEWER_QUEUE,
        max_viewers: int = WEB_MAX_VIEWERS,
    ) -> None:
        host, port = parse_address(address)
        self.policy: AccessPolicy
        self.policy, self.token_generated = policy_for(host, token, view_without_token)
        self.backlog = BacklogPoller(controller) if controller.role == "consumer" else None
        self.hub = SnapshotHub(
            controller,
            history_s=history_s,
            queue_size=queue_size,
            max_viewers=max_viewers,
            backlog=self.backlog,
        )
        self.app = create_app(controller, self.hub, self.policy)
        self.host = host
        self._sock = bind(host, port)
        self.port = self._sock.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, controller: ControllerLike, settings: Any) -> WebServer:
        return cls(
            controller,
            settings.web,
            token=settings.web_token,
            view_without_token=settings.web_view_without_token,
            history_s=settings.web_history_s,
        )

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http="h11",  # pure Python: httptools, if installed, could turn the GIL back on
            loop="asyncio",  # likewise uvloop
            ws="none",
            timeout_graceful_shutdown=2,
            server_header=False,
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._sock]}, name="web-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            self.stop()
            raise UserError(f"the web dashboard did not start within {START_TIMEOUT_S:g}s")
        if self.backlog is not None:
            self.backlog.start()

    def stop(self) -> None:
        """End every stream, then the server (bounded); safe to call twice."""
        if self.backlog is not None:
            self.backlog.stop()
        self.hub.close_threadsafe()  # streams end first: the server then has nothing to wait for
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(STOP_TIMEOUT_S)
        self._server = self._thread = None
        self._sock.close()
