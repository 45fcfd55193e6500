"""The console scripts: a Ctrl-C while the command line is still importing exits 130 quietly."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from pulsarload import entry


def test_ctrl_c_during_the_imports_is_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = builtins.__import__

    def interrupted(name: str, *args: Any, **kwargs: Any) -> Any:
        fromlist = args[2] if len(args) > 2 else kwargs.get("fromlist")
        if name == "pulsarload" and fromlist and "cli" in fromlist:
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize("name", ["main", "producer_main", "consumer_main"])
def test_each_script_reaches_its_command(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["x", "--help"])
    with pytest.raises(SystemExit) as done:
        getattr(entry, name)()
    assert done.value.code == 0
    assert "Usage:" in capsys.readouterr().out
