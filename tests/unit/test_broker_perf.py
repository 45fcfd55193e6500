"""`pulsarload perf`: pulsar-perf's command line, without running Java."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulsarload.broker import perf
from pulsarload.broker.jvm import Java
from pulsarload.config import LocalBrokerSettings


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PULSARLOAD_CACHE", str(tmp_path))
    return tmp_path


def test_args_pass_through_after_the_client_conf() -> None:
    args = ["produce", "-r", "1000", "-time", "5", "persistent://public/default/x"]
    cmd = perf.perf_command(
        args,
        LocalBrokerSettings(),
        Java("java", 17),
        service_url="pulsar://h:1",
        admin_url="http://h:2",
    )
    main = cmd.index(perf.MAIN_CLASS)
    conf = Path(cmd[main + 1])
    assert cmd[main + 2 :] == args
    assert conf.read_text().splitlines()[1:] == [
        "webServiceUrl=http://h:2",
        "brokerServiceUrl=pulsar://h:1",
    ]
    assert "java.base/sun.net=ALL-UNNAMED" in cmd
    log4j = next(o for o in cmd if o.startswith("-Dlog4j.configurationFile="))
    assert Path(log4j.split("=", 1)[1]).exists()


def test_the_client_tool_starts_like_perf_with_its_own_conf_dir(tmp_path: Path) -> None:
    """pulsar-client takes the same client.conf first; each caller may keep its own."""
    args = ["consume", "-s", "sub", "persistent://public/default/x"]
    settings = LocalBrokerSettings()
    java = Java("java", 17)
    cmd = perf.tool_command(
        perf.CLIENT_TOOL, args, settings, java, service_url="pulsar://h:1",
        admin_url="http://h:2", conf_dir=tmp_path / "c", log_level="warn",
    )  # fmt: skip
    main = cmd.index(perf.CLIENT_TOOL)
    assert cmd[main + 1] == str(tmp_path / "c" / "client.conf")
    assert cmd[main + 2 :] == args
    assert "brokerServiceUrl=pulsar://h:1" in Path(cmd[main + 1]).read_text()
    assert "-Dpulsar.log.level=warn" in cmd
    perf_cmd = perf.perf_command(
        args, settings, java, service_url="pulsar://h:1", admin_url="http://h:2"
    )

    # The same JVM, flags and classpath as pulsar-perf (log settings aside).
    def launcher(c: list[str], main_class: str) -> list[str]:
        head = c[: c.index(main_class)]
        return [o for o in head if not o.startswith(("-Dlog4j.", "-Dpulsar.log."))]

    assert launcher(cmd, perf.CLIENT_TOOL) == launcher(perf_cmd, perf.MAIN_CLASS)
    assert "-cp" in launcher(cmd, perf.CLIENT_TOOL)


def test_run_perf_targets_env_urls_then_local_broker(monkeypatch) -> None:
    seen: dict[str, str] = {}

    def fake_command(args, settings, java, *, service_url, admin_url):
        seen.update(service_url=service_url, admin_url=admin_url)
        return ["true"]

    monkeypatch.setattr(perf, "perf_command", fake_command)
    monkeypatch.setattr(perf.jvm, "find_java", lambda: Java("java", 17))
    monkeypatch.setattr(perf, "ensure_classpath", lambda s: [])
    monkeypatch.delenv("PULSAR_BROKER_URL", raising=False)
    monkeypatch.delenv("PULSAR_ADMIN_URL", raising=False)
    local = LocalBrokerSettings(broker_port=7650, web_port=9080)
    assert perf.run_perf(["produce"], local) == 0
    assert seen == {"service_url": "pulsar://localhost:7650", "admin_url": "http://localhost:9080"}
    monkeypatch.setenv("PULSAR_BROKER_URL", "pulsar://remote:6650")
    monkeypatch.setenv("PULSAR_ADMIN_URL", "http://remote:8080")
    assert perf.run_perf(["produce"], local) == 0
    assert seen["service_url"] == "pulsar://remote:6650"
    monkeypatch.setattr(perf, "perf_command", lambda *a, **k: ["false"])
    assert perf.run_perf(["produce"], local) == 1
