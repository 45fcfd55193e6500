"""The one error of the broker layer (re-exported by `standalone`, where callers import it)."""

from __future__ import annotations

from pulsarload.errors import UserError


class BrokerError(UserError):
    """The local broker, Java, Maven or kubectl failed; the message says what to do next."""
