"""The two interpreters a benchmark compares: the free-threaded build and the GIL build.

Each is found beside the checkout (``.venv`` and ``.venv-gil``) unless an environment variable
names it, and probed in a subprocess for its version, build and GIL state, and whether
pulsarload and the official client import there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pulsarload.bench.process import child_env

#: Environment overrides for the two interpreters (defaults: .venv and .venv-gil of the checkout).
FT_PYTHON_ENV = "PULSARLOAD_FT_PYTHON"
GIL_PYTHON_ENV = "PULSARLOAD_GIL_PYTHON"


def _checkout_roots() -> list[Path]:
    roots = [Path.cwd(), *Path.cwd().parents]
    here = Path(__file__).resolve()
    roots += list(here.parents)
    return roots


def _find_venv_python(name: str) -> Path | None:
    for root in _checkout_roots():
        candidate = root / name / "bin" / "python"
        if candidate.exists():
            return candidate
    return None


def ft_python() -> Path | None:
    """The free-threaded interpreter with pulsarload installed (this one, if it is free-threaded)."""
    if os.environ.get(FT_PYTHON_ENV):
        return Path(os.environ[FT_PYTHON_ENV])
    import sysconfig

    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return Path(sys.executable)
    return _find_venv_python(".venv")


def gil_python() -> Path | None:
    """The GIL build of the same CPython (``.venv-gil``), where the official client lives."""
    if os.environ.get(GIL_PYTHON_ENV):
        return Path(os.environ[GIL_PYTHON_ENV])
    return _find_venv_python(".venv-gil")


_PROBE = (
    "import json, sys, sysconfig, platform\n"
    "info = {'version': platform.python_version(),\n"
    "        'free_threaded_build': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),\n"
    "        'gil_enabled': getattr(sys, '_is_gil_enabled', lambda: True)(),\n"
    "        'executable': sys.executable}\n"
    "try:\n"
    "    import pulsarload\n"
    "    info['pulsarload'] = pulsarload.__version__\n"
    "    import pulsarload.load.controller  # noqa: F401\n"
    "    info['gil_after_import'] = getattr(sys, '_is_gil_enabled', lambda: True)()\n"
    "except Exception as exc:\n"
    "    info['pulsarload_error'] = f'{type(exc).__name__}: {exc}'\n"
    "try:\n"
    "    import pulsar\n"
    "    from importlib.metadata import version\n"
    "    info['pulsar_client'] = version('pulsar-client')\n"
    "except Exception:\n"
    "    info['pulsar_client'] = None\n"
    "print(json.dumps(info))\n"
)


def interpreter_facts(python: Path | None) -> dict[str, Any] | None:
    """Version, build and GIL state of ``python``, and whether pulsarload/pulsar-client import."""
    if python is None or not python.exists():
        return None
    try:
        out = subprocess.run(
            [str(python), "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(),
            check=False,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None
