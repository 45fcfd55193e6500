"""The ASGI app: the page, its static files, the snapshot stream, and the controls.

Reading (`GET /api/meta`, `GET /api/stream`) needs the token when the policy says so; every
control is a `POST` with the token in the `Authorization` header and a small JSON body, turned
into the same command objects the terminal dashboard's keys make (`load.controls`). A bad
request gets a 4xx with one line saying what is wrong, and never reaches the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pulsarload.client.consumer_config import parse_seek_target
from pulsarload.config import (
    ACK_STRATEGIES,
    WEB_MAX_BODY_BYTES,
    ConsumeSettings,
    ProduceSettings,
    settings_fields,
)
from pulsarload.errors import ConfigError
from pulsarload.load import controls as cmd
from pulsarload.web.access import AccessPolicy
from pulsarload.web.hub import ControllerLike, SnapshotHub, TooManyViewers

KEEPALIVE_S = 15.0  # a comment line on a quiet stream, so proxies keep it open
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
]
#: Commands a browser may send (not `stop`: ending the run belongs to whoever started it).
BROWSER_COMMANDS = frozenset(cmd.COMMANDS) - {cmd.Stop.kind}
PRODUCER_ONLY = frozenset({cmd.SetRate.kind, cmd.Burst.kind, cmd.EndBurst.kind})
CONSUMER_ONLY = frozenset({cmd.Seek.kind})


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": message}, status_code=status, headers={"cache-control": "no-store"}
    )


class Guard:
    """Pure ASGI middleware: refuses Host names a loopback server does not answer (a page
    that rebinds its own name to 127.0.0.1 would otherwise be same-origin) and adds the
    security headers to every response."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        if not self.policy.host_allowed(host):
            response = _error(421, "this server answers only to a loopback host name")
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _limits(settings: Any, name: str) -> tuple[float, float]:
    meta = settings_fields(type(settings))[name].metadata
    return float(meta.get("min", -math.inf)), float(meta.get("max", math.inf))


def _number(data: dict[str, Any], name: str, lo: float, hi: float, integer: bool = False) -> Any:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(400, f"{name}: expected a number, got {value!r}")
    if integer and value != int(value):
        raise BadRequest(400, f"{name}: expected a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise BadRequest(400, f"{name}={value:g} is out of range {lo:g}..{hi:g}")
    return int(value) if integer else float(value)


def parse_command(data: Any, controller: ControllerLike) -> cmd.Command:
    """A browser's JSON body -> a command, checked as the terminal dashboard checks its keys."""
    if not isinstance(data, dict):
        raise BadRequest(400, 'expected a JSON object like {"kind": "set_rate", "rate": 1000}')
    kind = data.get("kind")
    if kind not in BROWSER_COMMANDS:
        raise BadRequest(
            400, f"unknown command kind {kind!r}; known: {', '.join(sorted(BROWSER_COMMANDS))}"
        )
    role = controller.role
    if kind in PRODUCER_ONLY and role != "producer":
        raise BadRequest(400, f"{kind} steers a producer; this run is a {role}")
    if kind in CONSUMER_ONLY and role != "consumer":
        raise BadRequest(400, f"{kind} steers a consumer; this run is a {role}")
    expected = set(cmd.COMMANDS[kind].__dataclass_fields__) | {"kind"}
    extra = set(data) - expected
    if extra:
        raise BadRequest(400, f"{kind}: unexpected field(s) {', '.join(sorted(extra))}")
    s = controller.settings
    pool = controller.pool
    match kind:
        case cmd.SetRate.kind:
            lo, hi = _limits(s, "rate")
            return cmd.SetRate(_number(data, "rate", lo, hi))
        case cmd.AddWorker.kind | cmd.RemoveWorker.kind:
            count = _number(data, "count", 1, s.max_threads, integer=True) if "count" in data else 1
            if kind == cmd.RemoveWorker.kind and pool is not None and pool.size - count < 1:
                raise BadRequest(409, "one thread is the minimum while running")
            return cmd.COMMANDS[kind](count)  # type: ignore[call-arg]
        case cmd.Burst.kind:
            m_lo, m_hi = _limits(s, "burst_multiplier")
            s_lo, s_hi = _limits(s, "burst_seconds")
            multiplier = (
                _number(data, "multiplier", m_lo, m_hi)
                if "multiplier" in data
                else s.burst_multiplier
            )
            seconds = _number(data, "seconds", s_lo, s_hi) if "seconds" in data else s.burst_seconds
            if pool is not None and pool.base_rate <= 0:
                raise BadRequest(
                    409, "burst multiplies a target rate; this run has none (as fast as possible)"
                )
            return cmd.Burst(multiplier, seconds)
        case cmd.Seek.kind:
            target = data.get("target")
            if not isinstance(target, str) or len(target) > 64:
                raise BadRequest(
                    400,
                    "target: expected earliest, latest, LEDGER:ENTRY[:PARTITION] or ms since the epoch",
                )
            try:
                parse_seek_target(target)
            except ConfigError as err:
                raise BadRequest(400, str(err)) from None
            return cmd.Seek(target.strip().lower())
        case _:
            return cmd.COMMANDS[kind]()


async def _json_body(request: Request) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest(415, "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > WEB_MAX_BODY_BYTES):
        raise BadRequest(413, f"the body is larger than {WEB_MAX_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > WEB_MAX_BODY_BYTES:
            raise BadRequest(413, f"the body is larger than {WEB_MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(400, "the body is not valid JSON") from None


class ViewerStream(StreamingResponse):
    """A stream that gives its viewer slot back however it ends: finished, cancelled, or the
    client gone before the first byte (then the body's generator never starts, so a `finally`
    inside it would never run and the slot would stay taken)."""

    def __init__(self, content: AsyncIterator[bytes], *, release: Callable[[], None], **kw: Any):
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def create_app(controller: ControllerLike, hub: SnapshotHub, policy: AccessPolicy) -> ASGIApp:
    """The Starlette app for one controller, wrapped in the host and header guard."""
    control_lock = asyncio.Lock()
    page = (files("pulsarload.web") / "templates" / "index.html").read_text(encoding="utf-8")
    static_root = Path(str(files("pulsarload") / "static"))
    assets_root = Path(str(files("pulsarload.web") / "assets"))

    def denied(request: Request, control: bool) -> Response | None:
        if not control and not policy.view_needs_token:
            return None
        if control and not policy.control_needs_token:
            return None
        why = policy.check_token(request.headers.get("authorization"))
        if why is None:
            return None
        return _error(401 if why.startswith("missing") else 403, why)

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def meta(request: Request) -> Response:
        if (refused := denied(request, control=False)) is not None:
            return refused
        s = controller.settings
        producer = isinstance(s, ProduceSettings)
        body: dict[str, Any] = {
            "role": controller.role,
            "topic": getattr(s, "pattern", None) or s.topic,
            "engine": s.engine,
            "max_threads": s.max_threads,
            "view_needs_token": policy.view_needs_token,
            "control_needs_token": policy.control_needs_token,
            "history_s": hub.history.capacity
            * (getattr(controller.sampler, "interval", 0.1) or 0.1),
            "latency": "publish" if producer else "end-to-end",
        }
        if producer:
            body.update(
                rate_step_fine=s.rate_step_fine,
                rate_step_coarse=s.rate_step_coarse,
                burst_multiplier=s.burst_multiplier,
                burst_seconds=s.burst_seconds,
            )
        if isinstance(s, ConsumeSettings):
            body.update(ack_strategies=list(ACK_STRATEGIES), ack=s.ack)
        return JSONResponse(body, headers={"cache-control": "no-store"})

    async def stream(request: Request) -> Response:
        if (refused := denied(request, control=False)) is not None:
            return refused
        try:
            queue, first = hub.open_viewer()
        except TooManyViewers as err:
            return _error(503, f"{err}; try again later")

        async def events() -> AsyncIterator[bytes]:
            queue.sent_bytes += len(first)
            yield first
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    item = b": keepalive\n\n"
                if item is None:
                    return
                queue.sent_bytes += len(item)
                yield item

        return ViewerStream(
            events(),
            release=lambda: hub.close_viewer(queue),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def run_control(label: str, work: Any, *args: Any, **kwargs: Any) -> Any:
        if control_lock.locked():
            raise BadRequest(409, f"busy: {hub.busy or 'another control'}; try again in a moment")
        async with control_lock:
            hub.busy = label
            try:
                return await asyncio.to_thread(work, *args, **kwargs)
            finally:
                hub.busy = None

    async def command(request: Request) -> Response:
        if (refused := denied(request, control=True)) is not None:
            return refused
        try:
            data = await _json_body(request)
            if controller.pool is None:
                raise BadRequest(409, "the run is starting; try again in a moment")
            command = parse_command(data, controller)
            text = await run_control(command.kind, controller.apply, command)
        except BadRequest as err:
            return _error(err.status, str(err))
        except (ConfigError, ValueError, RuntimeError) as err:
            return _error(409, str(err))
        return JSONResponse({"ok": True, "message": text, "command": command.to_dict()})

    async def ack(request: Request) -> Response:
        if (refused := denied(request, control=True)) is not None:
            return refused
        try:
            if controller.role != "consumer":
                raise BadRequest(
                    400, "the ack strategy belongs to a consumer; this run is a producer"
                )
            data = await _json_body(request)
            value = data.get("ack") if isinstance(data, dict) else None
            if value not in ACK_STRATEGIES or set(data) != {"ack"}:
                raise BadRequest(400, f'expected {{"ack": one of {", ".join(ACK_STRATEGIES)}}}')
            if controller.pool is None:
                raise BadRequest(409, "the run is starting; try again in a moment")
            text = await run_control("restarting the workers", controller.reconfigure, ack=value)
        except BadRequest as err:
            return _error(err.status, str(err))
        except (ConfigError, ValueError, RuntimeError) as err:
            return _error(409, str(err))
        return JSONResponse({"ok": True, "message": text})

    async def export(request: Request) -> Response:
        if (refused := denied(request, control=True)) is not None:
            return refused
        what = request.path_params["what"]
        if what not in ("json", "csv"):
            return _error(404, "export json or csv")
        folder = Path(tempfile.mkdtemp(prefix="pulsarload-web-export-"))
        try:
            try:
                paths = await run_control("exporting", controller.export_now, folder)
            except BadRequest as err:
                return _error(err.status, str(err))
            chosen = next((p for p in paths if p.suffix == f".{what}"), None)
            if chosen is None:
                return _error(409, f"nothing to export as {what} yet (no snapshot, or no series)")
            data = chosen.read_bytes()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        media = "application/json" if what == "json" else "text/csv"
        return Response(
            data,
            media_type=media,
            headers={
                "content-disposition": f'attachment; filename="{chosen.name}"',
                "cache-control": "no-store",
            },
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.attach(asyncio.get_running_loop())
        try:
            yield
        finally:
            hub.close()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/meta", meta),
            Route("/api/stream", stream),
            Route("/api/command", command, methods=["POST"]),
            Route("/api/ack", ack, methods=["POST"]),
            Route("/api/export/{what}", export, methods=["POST"]),
            Mount("/static", StaticFiles(directory=static_root), name="static"),
            Mount("/assets", StaticFiles(directory=assets_root), name="assets"),
        ],
        lifespan=lifespan,
    )
    return Guard(app, policy)
