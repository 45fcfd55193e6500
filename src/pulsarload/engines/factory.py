"""Pick an engine by name: the one place that knows every engine (they import `base`, never
this module, so the engines never import each other)."""

from __future__ import annotations

from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.engines.base import Engine
from pulsarload.engines.native import NativeEngine
from pulsarload.engines.official import OfficialEngine
from pulsarload.errors import ConfigError

__all__ = ["create_engine", "redelivery_reasons_known"]


def create_engine(name: str, settings: ProduceSettings | ConsumeSettings) -> Engine:
    """The engine by name; `official` only where Apache's pulsar-client imports (it is
    imported when the engine starts, not here)."""
    if name == "native":
        return NativeEngine(settings)
    if name == "official":
        return OfficialEngine(settings)
    raise ConfigError(f"engine {name!r} is unknown; use native or official")


def redelivery_reasons_known(name: str) -> bool:
    """Whether the engine by this name counts redeliveries by reason (the official client
    does not say why it redelivers)."""
    engines = {"native": NativeEngine, "official": OfficialEngine}
    engine = engines.get(name)
    return engine is not None and engine.redelivery_reasons
