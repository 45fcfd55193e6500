"""One vocabulary: every choice of the settings model names a client enum member, whose value is
the wire's and whose name is the official client's.

The wire enums own the values (and, in lower case, the tool's words); the client's enums take
their values from them under the official names; `client/choices.py` maps each word to its
member, and `config.py`'s choices and both engines' arguments are built from those tables. The official names are read from Apache's
`pulsar-client` in the GIL build's venv, in a subprocess (skipped, with the reason, without it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from enum import Enum
from pathlib import Path

import pytest

from pulsarload import config
from pulsarload.client import choices
from pulsarload.client.consumer_config import (
    ConsumerType,
    InitialPosition,
    KeySharedMode,
    RegexSubscriptionMode,
)
from pulsarload.client.settings import (
    CompressionType,
    HashingScheme,
    PartitionsRoutingMode,
    ProducerAccessMode,
)
from pulsarload.wire import enums as wire

REPO = Path(__file__).resolve().parents[3]

#: Setting -> (its choices in the model, the table they come from, the wire enum or None when
#: the concept never reaches the wire, the official enum or None when the official client has
#: no such option).
SETTINGS = {
    "compression": (config.COMPRESSIONS, choices.COMPRESSION, wire.CompressionType, "CompressionType"),
    "subscription_type": (config.SUBSCRIPTION_TYPES, choices.SUBSCRIPTION_TYPE, wire.SubType, "ConsumerType"),
    "initial_position": (config.INITIAL_POSITIONS, choices.INITIAL_POSITION, wire.InitialPosition, "InitialPosition"),
    "routing": (config.ROUTING_MODES, choices.ROUTING, None, "PartitionsRoutingMode"),
    "hashing": (config.HASHING_SCHEMES, choices.HASHING, None, None),
}  # fmt: skip

#: Client enum -> the wire enum that owns its values.
ON_THE_WIRE: dict[type[Enum], type[Enum]] = {
    CompressionType: wire.CompressionType,
    ConsumerType: wire.SubType,
    InitialPosition: wire.InitialPosition,
    KeySharedMode: wire.KeySharedMode,
    ProducerAccessMode: wire.ProducerAccessMode,
    RegexSubscriptionMode: wire.TopicsMode,
}

_DUMP = r"""
import json, pulsar
names = {}
for e in ("CompressionType", "ConsumerType", "InitialPosition", "PartitionsRoutingMode",
          "KeySharedMode", "ProducerAccessMode", "RegexSubscriptionMode"):
    names[e] = list(getattr(pulsar, e).__members__)
print(json.dumps(names))
"""


def _plain(name: str) -> str:
    """A name without case or underscores: the wire's Key_Shared is the official KeyShared."""
    return name.replace("_", "").lower()


def _field(name: str) -> dataclasses.Field:
    for settings in (config.ProduceSettings, config.ConsumeSettings):
        for f in dataclasses.fields(settings):
            if f.name == name:
                return f
    raise AssertionError(f"no setting {name}")


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_the_model_offers_exactly_the_words_of_its_table(setting: str) -> None:
    offered, table, _wire, _official = SETTINGS[setting]
    assert tuple(_field(setting).metadata["choices"]) == offered == tuple(table)
    assert _field(setting).default in table


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_each_choice_maps_to_a_wire_value(setting: str) -> None:
    _offered, table, wire_enum, _official = SETTINGS[setting]
    if wire_enum is None:  # a client-side choice: its values are the official client's
        assert all(isinstance(m, HashingScheme | PartitionsRoutingMode) for m in table.values())
        return
    for word, member in table.items():
        on_wire = wire_enum(int(member))
        assert word == on_wire.name.lower(), (word, on_wire)  # the wire names the word too
        assert _plain(member.name).startswith(_plain(on_wire.name)), (word, member, on_wire)


@pytest.mark.parametrize("client_enum", list(ON_THE_WIRE), ids=lambda e: e.__name__)
def test_client_enums_take_their_values_from_the_wire(client_enum: type[Enum]) -> None:
    wire_enum = ON_THE_WIRE[client_enum]
    for member in client_enum:  # the official name starts with the wire's (PersistentOnly)
        assert _plain(member.name).startswith(_plain(wire_enum(int(member)).name)), member
    assert {int(m) for m in client_enum} == {int(m) for m in wire_enum}


def _official_names() -> dict[str, list[str]]:
    py = Path(os.environ.get("PULSARLOAD_OFFICIAL_PYTHON") or REPO / ".venv-gil" / "bin" / "python")
    if not py.exists():
        pytest.skip(f"{py} does not exist (make setup builds .venv-gil with pulsar-client)")
    proc = subprocess.run([str(py), "-c", _DUMP], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"official client unavailable: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_each_choice_maps_to_an_official_name() -> None:
    official = _official_names()
    for setting, (_offered, table, _wire, official_enum) in SETTINGS.items():
        if official_enum is None:  # no such option in the official client (native engine only)
            continue
        for word, member in table.items():
            assert member.name in official[official_enum], (setting, word, member)


def test_client_enums_carry_every_official_name() -> None:
    official = _official_names()
    ours = {
        "CompressionType": CompressionType,
        "ConsumerType": ConsumerType,
        "InitialPosition": InitialPosition,
        "PartitionsRoutingMode": PartitionsRoutingMode,
        "KeySharedMode": KeySharedMode,
        "ProducerAccessMode": ProducerAccessMode,
        "RegexSubscriptionMode": RegexSubscriptionMode,
    }
    for name, enum in ours.items():
        assert set(official[name]) <= set(enum.__members__), name
