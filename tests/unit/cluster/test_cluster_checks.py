"""Bad cluster input is refused in one line before anything starts; placement spreads hosts."""

from __future__ import annotations

import pytest

from pulsarload.cluster.connect import (
    PROFILER_OFF,
    ClusterError,
    _make_probe,
    check_profiler,
    check_versions,
    place_shards,
)
from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.errors import ConfigError


def test_placement_goes_round_robin_over_hosts() -> None:
    workers = {
        "tcp://10.0.0.1:1": "a",
        "tcp://10.0.0.1:2": "a",
        "tcp://10.0.0.1:3": "a",
        "tcp://10.0.0.2:1": "b",
        "tcp://10.0.0.2:2": "b",
    }
    chosen = place_shards(workers, 4)
    assert [workers[a] for a in chosen] == ["a", "b", "a", "b"]
    assert len(set(chosen)) == 4


def test_too_few_workers_is_one_line() -> None:
    with pytest.raises(ClusterError) as err:
        place_shards({"tcp://x:1": "x"}, 3)
    assert "3 shards need 3 Dask workers" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("facts", "words"),
    [
        (
            {"pulsarload": None, "import_error": "ModuleNotFoundError: x"},
            "cannot import pulsarload",
        ),
        ({"pulsarload": "0.0.1"}, "has pulsarload 0.0.1"),
    ],
)
def test_a_worker_without_pulsarload_or_another_version_is_refused(facts, words) -> None:
    with pytest.raises(ClusterError) as err:
        check_versions({"tcp://w:1": facts}, want="0.1.0")
    assert words in str(err.value) and "\n" not in str(err.value)
    check_versions({"tcp://w:1": {"pulsarload": "0.1.0"}}, want="0.1.0")


def test_a_free_threaded_worker_running_dasks_profiler_is_refused_in_one_line() -> None:
    ft = {"free_threaded_build": True, "dask_profiler": True}
    with pytest.raises(ClusterError) as err:
        check_profiler({"tcp://w:1": {"free_threaded_build": False}, "tcp://w:2": ft})
    text = str(err.value)
    assert "tcp://w:2" in text and "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False" in text
    assert "\n" not in text
    # a GIL build's profiler is safe; a free-threaded worker without it is what we want
    check_profiler({"tcp://w:1": {"free_threaded_build": False, "dask_profiler": True}})
    check_profiler({"tcp://w:1": {"free_threaded_build": True, "dask_profiler": False}})


def test_the_probe_reports_dasks_profiler_as_configured() -> None:
    import dask

    probe = _make_probe()
    with dask.config.set({"distributed.worker.profile.enabled": True}):
        assert probe()["dask_profiler"] is True
    with dask.config.set(PROFILER_OFF):
        assert probe()["dask_profiler"] is False


def test_the_probe_runs_without_pulsarload_on_the_other_side() -> None:
    import cloudpickle

    probe = _make_probe()
    facts = probe()
    assert facts["pulsarload"] and facts["gil_enabled"] in (True, False)
    # shipped by value: nothing in it refers to a pulsarload module by name
    assert b"pulsarload.cluster" not in cloudpickle.dumps(probe)


@pytest.mark.parametrize(
    ("cls", "flags", "words"),
    [
        (ProduceSettings, {"cluster": "local", "workers": 0}, "--workers 0: a cluster run needs"),
        (ProduceSettings, {"workers": 3}, "--workers 3 needs --cluster"),
        (ProduceSettings, {"cluster": "scheduler:8786"}, "use local, or a Dask scheduler"),
        (ProduceSettings, {"cluster": "local", "workers": 3, "messages": 2}, "fewer than the 3"),
        (ConsumeSettings, {"cluster": "local", "workers": 2}, "exclusive lets one consumer"),
        (ProduceSettings, {"cluster": "local", "on_worker_loss": "panic"}, "on_worker_loss"),
    ],
)
def test_bad_cluster_settings_are_one_line(cls, flags, words) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_settings(cls, flags, environ={})
    assert words in str(err.value) and "\n" not in str(err.value)


def test_good_cluster_settings_pass() -> None:
    s = resolve_settings(
        ConsumeSettings,
        {"cluster": "tcp://127.0.0.1:8786", "workers": 2, "subscription_type": "shared"},
        environ={},
    )
    assert s.workers == 2 and s.on_worker_loss == "continue"
