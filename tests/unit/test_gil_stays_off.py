"""The GIL must stay off: every module of the package and every runtime dependency imported."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import sysconfig

import pytest

import pulsarload
from pulsarload.doctor import RUNTIME_DEPENDENCIES

pytestmark = pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"),
    reason="only meaningful on a free-threaded build (.venv)",
)

SCRIPT = """
import importlib, pkgutil, sys
import pulsarload
from pulsarload.doctor import RUNTIME_DEPENDENCIES
for module in RUNTIME_DEPENDENCIES.values():
    importlib.import_module(module)
failed = []
for info in pkgutil.walk_packages(pulsarload.__path__, "pulsarload."):
    try:
        importlib.import_module(info.name)
    except Exception as err:
        failed.append(f"{info.name}: {err!r}")
print("FAILED", failed)
print("GIL", sys._is_gil_enabled())
"""


def test_everything_imports_with_the_gil_off() -> None:
    # A fresh interpreter, so nothing imported by other tests can hide or cause the result.
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "FAILED []" in out, out
    assert "GIL False" in out, out


def test_in_process_imports_leave_the_gil_off() -> None:
    for module in RUNTIME_DEPENDENCIES.values():
        importlib.import_module(module)
    for info in pkgutil.walk_packages(pulsarload.__path__, "pulsarload."):
        importlib.import_module(info.name)
    assert sys._is_gil_enabled() is False
