"""The GIL must stay off: every module of the package and every runtime dependency imported."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys
import sysconfig

import pytest

import pulsarload
from pulsarload.doctor import CLUSTER_DEPENDENCIES, RUNTIME_DEPENDENCIES

pytestmark = pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"),
    reason="only meaningful on a free-threaded build (.venv)",
)

SCRIPT = """
import importlib, importlib.util, pkgutil, sys
import pulsarload
from pulsarload.doctor import CLUSTER_DEPENDENCIES, RUNTIME_DEPENDENCIES
for module in RUNTIME_DEPENDENCIES.values():
    importlib.import_module(module)
for module in CLUSTER_DEPENDENCIES.values():
    # Required where `make setup` installs the cluster extra (3.13t); optional on 3.14t.
    if sys.version_info < (3, 14) or importlib.util.find_spec(module) is not None:
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


def _cluster_modules() -> list[str]:
    """The cluster extra: required on 3.13t (make setup installs it), optional on 3.14t."""
    return [
        m
        for m in CLUSTER_DEPENDENCIES.values()
        if sys.version_info < (3, 14) or importlib.util.find_spec(m) is not None
    ]


def test_in_process_imports_leave_the_gil_off() -> None:
    for module in (*RUNTIME_DEPENDENCIES.values(), *_cluster_modules()):
        importlib.import_module(module)
    for info in pkgutil.walk_packages(pulsarload.__path__, "pulsarload."):
        importlib.import_module(info.name)
    assert sys._is_gil_enabled() is False


def test_cluster_dependencies_are_covered() -> None:
    # Dask's own compiled dependencies (built from sdists on 3.13t) are imported above too.
    assert {"dask", "distributed", "msgpack", "tornado", "yaml"} <= set(
        CLUSTER_DEPENDENCIES.values()
    )


LAZY_SCRIPT = """
import sys
import uvicorn.protocols.http.h11_impl, uvicorn.loops.asyncio, uvicorn.lifespan.on
import starlette.staticfiles, starlette.testclient
import pulsarload.web.server
import selenium.webdriver
from selenium.webdriver.chrome.service import Service
print("GIL", sys._is_gil_enabled())
"""


def test_web_server_parts_and_the_browser_driver_leave_the_gil_off() -> None:
    # uvicorn imports its HTTP protocol and loop when it starts serving, not on `import
    # uvicorn`; Selenium (test extra) drives the browser tests from this interpreter.
    out = subprocess.run(
        [sys.executable, "-c", LAZY_SCRIPT], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "GIL False" in out, out


PROTOBUF_SCRIPT = """
import sys
from google.protobuf import descriptor_pb2
from google.protobuf.internal import api_implementation
from pulsarload.client.schema import ProtobufNativeSchema
schema = ProtobufNativeSchema(descriptor_pb2.FileDescriptorProto)
for n in range(100):
    schema.decode(schema.encode({"name": f"f{n}.proto", "dependency": ["a", "b"]}))
print("IMPL", api_implementation.Type())
print("GIL", sys._is_gil_enabled())
"""


def test_protobuf_schemas_in_use_leave_the_gil_off() -> None:
    # PROTOBUF_NATIVE builds message classes at run time and encodes with them: on a
    # free-threaded build pip installs protobuf's pure-Python wheel (its compiled one is abi3).
    out = subprocess.run(
        [sys.executable, "-c", PROTOBUF_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "GIL False" in out, out
