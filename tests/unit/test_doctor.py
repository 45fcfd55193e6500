"""`pulsarload doctor` with URLs a user mistypes: a line that says so, never a traceback or a
false "reachable"."""

from __future__ import annotations

import pytest

from pulsarload import doctor
from pulsarload.cli import main


@pytest.mark.parametrize("url", ["garbage", "http://localhost:6650", "pulsar://:6650"])
def test_a_malformed_broker_url_is_not_reachable(url: str) -> None:
    reason = doctor._tcp_reachable(url)
    assert reason is not None and "not a broker URL" in reason


@pytest.mark.parametrize("url", ["nonsense", "pulsar://localhost:8080", "http://"])
def test_a_malformed_admin_url_is_not_ready(url: str) -> None:
    reason = doctor._admin_ready(url)
    assert reason is not None and "not an admin URL" in reason


def test_doctor_reports_bad_urls_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "_java_version", lambda: "java (not checked here)")
    with pytest.raises(SystemExit) as info:
        main(["doctor", "-u", "garbage", "--admin-url", "nonsense"])
    out, err = capsys.readouterr()
    assert info.value.code == 1
    assert "Traceback" not in out + err
    assert "[!!] broker                 garbage unreachable: not a broker URL" in out
    assert "[!!] admin API              nonsense not ready: not an admin URL" in out
