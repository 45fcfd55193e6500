"""Each client default is stated once, on its settings dataclass: the official-shaped
signatures of `Client` take every default their dataclass also has from it (by name)."""

from __future__ import annotations

import ast
import dataclasses
import inspect

import pytest

from pulsarload.client import client as client_module
from pulsarload.client.consumer_config import ConsumerConfig
from pulsarload.client.settings import ClientConfig, ProducerConfig

SIGNATURES = {
    "__init__": ClientConfig,
    "create_producer": ProducerConfig,
    "subscribe": ConsumerConfig,
    "create_reader": ConsumerConfig,
}


@pytest.mark.parametrize("method", sorted(SIGNATURES))
def test_signature_defaults_come_from_the_dataclass(method: str) -> None:
    conf = SIGNATURES[method]
    owned = {f.name for f in dataclasses.fields(conf) if f.default is not dataclasses.MISSING}
    tree = ast.parse(inspect.getsource(client_module))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")
    fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == method)
    args = fn.args
    positional = args.args[len(args.args) - len(args.defaults) :]
    pairs = [*zip(positional, args.defaults, strict=True)]
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
    restated = [
        a.arg
        for a, d in pairs
        if a.arg in owned and not (isinstance(d, ast.Attribute) and d.attr == a.arg)
    ]
    assert not restated, f"Client.{method} restates {conf.__name__}'s defaults: {restated}"
    # And the values agree (the names resolve to the dataclass's defaults).
    sig = inspect.signature(getattr(client_module.Client, method))
    for f in dataclasses.fields(conf):
        param = sig.parameters.get(f.name)
        if (
            f.default is dataclasses.MISSING
            or param is None
            or param.default is inspect.Parameter.empty
        ):
            continue  # not in this signature, or required there
        assert param.default == f.default, f.name
