"""The browser dashboard's ASGI app: pages, the token, and every way a request can be wrong.

A refused request answers 4xx with one line and never reaches the run: the fake controller's
record of applied commands shows it.
"""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from web_fake import FakeController

from pulsarload.load import controls as cmd
from pulsarload.web.access import policy_for
from pulsarload.web.app import create_app
from pulsarload.web.hub import SnapshotHub

TOKEN = "unit-test-token-0123456789"


def client_for(
    controller: FakeController, host: str = "127.0.0.1", token: str | None = None, view_open=False
) -> TestClient:
    policy, _ = policy_for(host, token, view_open)
    hub = SnapshotHub(controller, history_s=60, queue_size=4, max_viewers=2)
    # TestClient talks to "testserver"; a loopback policy answers loopback names only.
    base = "http://127.0.0.1:8088" if policy.allowed_hosts else "http://testserver"
    return TestClient(create_app(controller, hub, policy), base_url=base)


@pytest.fixture
def producer() -> FakeController:
    c = FakeController("producer", rate=1000.0)
    c.tick()
    return c


def post(client: TestClient, path: str, body: object, token: str | None = None, **kw):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    headers.update(kw.pop("headers", {}))
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, content=data, headers=headers, **kw)


def test_page_static_files_and_licence(producer: FakeController) -> None:
    with client_for(producer) as client:
        page = client.get("/")
        assert page.status_code == 200 and "uPlot.iife.min.js" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        js = client.get("/static/uplot/uPlot.iife.min.js")
        assert js.status_code == 200 and "uPlot" in js.text
        assert "MIT License" in client.get("/static/uplot/LICENSE").text
        assert client.get("/assets/dashboard.js").status_code == 200
        assert client.get("/static/../web/app.py").status_code == 404


def test_meta_says_what_the_controls_need(producer: FakeController) -> None:
    with client_for(producer) as client:
        meta = client.get("/api/meta").json()
    assert meta["role"] == "producer" and meta["control_needs_token"] is False
    assert meta["rate_step_fine"] == producer.settings.rate_step_fine
    assert meta["history_s"] == pytest.approx(60)


def test_a_command_reaches_the_run(producer: FakeController) -> None:
    with client_for(producer) as client:
        answer = post(client, "/api/command", {"kind": "set_rate", "rate": 2500})
    assert answer.status_code == 200, answer.text
    assert producer.applied == [cmd.SetRate(2500.0)]


def test_a_burst_can_be_ended_early_as_with_the_b_key(producer: FakeController) -> None:
    with client_for(producer) as client:
        assert post(client, "/api/command", {"kind": "end_burst"}).status_code == 200
    assert producer.applied == [cmd.EndBurst()]
    consumer = FakeController("consumer")
    consumer.tick()
    with client_for(consumer) as client:
        refused = post(client, "/api/command", {"kind": "end_burst"})
    assert refused.status_code == 400 and "producer" in refused.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        ([1, 2], 400, "JSON object"),
        ({"kind": "explode"}, 400, "unknown command kind"),
        ({"kind": "stop"}, 400, "unknown command kind"),
        ({"kind": "set_rate"}, 400, "rate: expected a number"),
        ({"kind": "set_rate", "rate": "fast"}, 400, "expected a number"),
        ({"kind": "set_rate", "rate": True}, 400, "expected a number"),
        ({"kind": "set_rate", "rate": -5}, 400, "out of range"),
        (b'{"kind": "set_rate", "rate": NaN}', 400, "expected a number"),
        ({"kind": "set_rate", "rate": 1, "extra": 2}, 400, "unexpected field"),
        ({"kind": "add_worker", "count": 1.5}, 400, "whole number"),
        ({"kind": "add_worker", "count": 10_000}, 400, "out of range"),
        ({"kind": "remove_worker", "count": 2}, 409, "minimum"),
        ({"kind": "burst", "multiplier": 0.5}, 400, "out of range"),
        ({"kind": "seek", "target": "earliest"}, 400, "consumer"),
    ],
)
def test_bad_commands_are_refused_and_never_applied(
    producer: FakeController, body: object, status: int, words: str
) -> None:
    with client_for(producer) as client:
        answer = post(client, "/api/command", body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]
    assert producer.applied == []


def test_transport_level_mistakes(producer: FakeController) -> None:
    with client_for(producer) as client:
        wrong_type = client.post(
            "/api/command", content=b"{}", headers={"content-type": "text/plain"}
        )
        assert wrong_type.status_code == 415
        huge = post(client, "/api/command", {"kind": "set_rate", "rate": 1, "pad": "x" * 9000})
        assert huge.status_code == 413
        assert client.get("/api/command").status_code == 405
        assert post(client, "/api/export/xml", {}).status_code == 404
        assert client.get("/no/such/page").status_code == 404
        assert post(client, "/api/ack", {"ack": "grouped"}).status_code == 400  # a producer
    assert producer.applied == []


def test_starting_run_refuses_controls(producer: FakeController) -> None:
    producer.pool = None
    with client_for(producer) as client:
        answer = post(client, "/api/command", {"kind": "pause"})
    assert answer.status_code == 409 and "starting" in answer.json()["error"]


def test_a_rebinding_host_name_is_refused_on_loopback(producer: FakeController) -> None:
    with client_for(producer) as client:
        answer = post(
            client, "/api/command", {"kind": "pause"}, headers={"host": "evil.example:8088"}
        )
    assert answer.status_code == 421
    assert producer.applied == []


def test_non_loopback_needs_the_token_for_everything(producer: FakeController) -> None:
    with client_for(producer, host="0.0.0.0", token=TOKEN) as client:
        assert client.get("/").status_code == 200  # the page itself asks for the token
        assert client.get("/api/meta").status_code == 401
        assert client.get("/api/stream").status_code == 401
        wrong = client.get("/api/meta", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 403 and wrong.json()["error"] == "wrong token"
        assert post(client, "/api/command", {"kind": "pause"}).status_code == 401
        assert post(client, "/api/command", {"kind": "pause"}, token="nope").status_code == 403
        assert post(client, "/api/export/json", {}, token="nope").status_code == 403
        assert producer.applied == []
        ok = post(client, "/api/command", {"kind": "pause"}, token=TOKEN)
        assert ok.status_code == 200
        meta = client.get("/api/meta", headers={"authorization": f"Bearer {TOKEN}"})
        assert meta.status_code == 200 and meta.json()["view_needs_token"] is True
        assert TOKEN not in meta.text
    assert producer.applied == [cmd.Pause()]


def test_viewing_without_token_keeps_controls_locked(producer: FakeController) -> None:
    with client_for(producer, host="0.0.0.0", token=TOKEN, view_open=True) as client:
        assert client.get("/api/meta").status_code == 200
        assert post(client, "/api/command", {"kind": "reset_metrics"}).status_code == 401
    assert producer.applied == []


def test_export_downloads_hold_no_token(producer: FakeController) -> None:
    with client_for(producer, host="0.0.0.0", token=TOKEN) as client:
        js = post(client, "/api/export/json", {}, token=TOKEN)
        csv = post(client, "/api/export/csv", {}, token=TOKEN)
    assert js.status_code == 200 and js.json()["schema"] == "pulsarload.snapshot"
    assert "attachment" in js.headers["content-disposition"]
    assert csv.status_code == 200 and csv.text.startswith("seq,")
    assert TOKEN not in js.text and TOKEN not in csv.text


def test_consumer_controls() -> None:
    consumer = FakeController("consumer")
    consumer.tick()
    with client_for(consumer) as client:
        assert post(client, "/api/command", {"kind": "seek", "target": "12:34"}).status_code == 200
        bad = post(client, "/api/command", {"kind": "seek", "target": "yesterday"})
        assert bad.status_code == 400 and "seek" in bad.json()["error"]
        assert post(client, "/api/command", {"kind": "set_rate", "rate": 5}).status_code == 400
        assert post(client, "/api/ack", {"ack": "sometimes"}).status_code == 400
        ack = post(client, "/api/ack", {"ack": "grouped"})
        assert ack.status_code == 200, ack.text
        assert client.get("/api/meta").json()["ack"] == "grouped"
    assert consumer.applied == [cmd.Seek("12:34")]
    assert consumer.reconfigured == [{"ack": "grouped"}]


def test_a_viewer_gone_before_the_first_byte_gives_its_slot_back(producer: FakeController) -> None:
    """The client hangs up before the response starts: the stream's body never runs, and the
    slot must still come back (else max_viewers such hang-ups lock every viewer out)."""
    import asyncio

    from starlette.requests import ClientDisconnect

    policy, _ = policy_for("127.0.0.1", None, False)
    hub = SnapshotHub(producer, history_s=60, queue_size=4, max_viewers=2)
    app = create_app(producer, hub, policy)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/stream",
        "raw_path": b"/api/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8088")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8088),
    }

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        raise OSError("client gone")  # what the server raises once the peer has closed

    async def hang_up_three_times() -> None:
        for _ in range(3):
            with pytest.raises(ClientDisconnect):
                await app(scope, receive, send)
            assert hub.viewers == 0

    asyncio.run(hang_up_three_times())
