"""`pulsarload capacity` refuses bad SLOs and contradictory settings in one line, exit 2,
before it connects to anything (the service URL points nowhere: nothing may be tried)."""

from __future__ import annotations

import pytest

from pulsarload.cli import main

NOWHERE = ["-u", "pulsar://127.0.0.1:1", "--admin-url", "http://127.0.0.1:1"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--slo", "p99_ms=<50"], "not of the form METRIC<OP>NUMBER"),
        (["--slo", "latency<50"], "unknown metric 'latency'"),
        (["--slo", "p99_ms>50"], "must be an upper bound"),
        (["--slo", "e2e_p99_ms<100"], "add --with-consumer"),
        (["--resolution", "5x"], "'5x' is not a percentage"),
        (["--resolution", "80%"], "resolution=0.8 is out of range"),
        (["--start-rate", "5000", "--max-rate", "1000"], "start_rate=5000 is above max_rate"),
        (["-d", "60"], "contradicts a capacity search"),
        (["--warmup", "5"], "use --step-warmup"),
        (["--threshold", "p99_ms<5"], "use --slo instead"),
        (["-r", "100"], "rate=100 contradicts a capacity search"),
        (["--step-window", "0"], "step_window_s=0.0 is out of range"),
        (["--workers", "2"], "--workers 2 needs --cluster local"),
        (["--cluster", "nowhere:1"], "use local, or a Dask scheduler address"),
        (["--cluster", "local", "--workers", "0"], "at least one shard"),
    ],
)
def test_capacity_refuses_in_one_line(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["capacity", "t1", *NOWHERE, *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert fragment in err and err.startswith("pulsarload: error:")


def test_the_max_rate_scenario_points_to_capacity(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["produce", "t1", "--headless", *NOWHERE, "--scenario", "max-rate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pulsarload capacity" in err


def test_capacity_with_cluster_runs_the_sharded_search() -> None:
    from pulsarload import cli
    from pulsarload.cluster.capacity import run_cluster_capacity
    from pulsarload.config import CapacitySettings, resolve_settings
    from pulsarload.load.capacity.local import run_capacity

    sharded = resolve_settings(CapacitySettings, {"cluster": "local", "workers": 2}, environ={})
    assert cli._capacity_runner(sharded) is run_cluster_capacity
    assert cli._capacity_runner(CapacitySettings()) is run_capacity
