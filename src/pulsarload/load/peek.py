"""A sample of received messages, for the consumer's messages panel and `--peek N`.

Sampling, not copying: a consumer worker keeps at most one message per `PEEK_EVERY_S` (the
check on its path is one integer comparison per batch or message), as an immutable record
with what a user inspects: message id, key, properties, times, redelivery count, size and a
payload preview (text when it decodes as printable UTF-8, else hex).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from pulsarload.engines.base import ReceivedMessage

#: At most one sample per worker per this many seconds.
PEEK_EVERY_S = 0.5
PEEK_EVERY_NS = int(PEEK_EVERY_S * 1e9)
#: Samples each worker keeps (the newest).
PEEK_KEEP = 32
#: Bytes of payload a preview shows.
PREVIEW_BYTES = 48


def preview(data: bytes, limit: int = PREVIEW_BYTES) -> tuple[str, str]:
    """("text", the text) when the head of `data` is printable UTF-8, else ("hex", hex digits);
    an ellipsis marks a cut."""
    head = data[:limit]
    more = "…" if len(data) > limit else ""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\n" for c in text):
        return "text", text.replace("\n", "⏎").replace("\t", "⇥") + more
    return "hex", head.hex(" ") + more


@dataclass(frozen=True, slots=True)
class MessageSample:
    """One received message, as shown to a user."""

    worker: str
    received_ns: int
    topic: str
    message_id: str
    key: str | None
    properties: tuple[tuple[str, str], ...]
    publish_time_ms: int
    event_time_ms: int
    redelivery_count: int
    size: int
    preview_kind: str  # text or hex
    preview: str

    @classmethod
    def of(cls, msg: ReceivedMessage, worker: str, received_ns: int) -> MessageSample:
        kind, text = preview(msg.data)
        return cls(
            worker=worker,
            received_ns=received_ns,
            topic=msg.topic,
            message_id=str(msg.message_id),
            key=msg.key,
            properties=tuple(sorted((msg.properties or {}).items())),
            publish_time_ms=msg.publish_time_ms,
            event_time_ms=msg.event_time_ms,
            redelivery_count=msg.redelivery_count,
            size=len(msg.data),
            preview_kind=kind,
            preview=text,
        )

    def line(self) -> str:
        """One line for `--peek` (headless)."""
        props = ",".join(f"{k}={v}" for k, v in self.properties) or "-"
        event = self.event_time_ms or "-"
        return (
            f"{self.message_id} key={self.key or '-'} props={props} publish={self.publish_time_ms}"
            f" event={event} redeliveries={self.redelivery_count} size={self.size}"
            f" {self.preview_kind}: {self.preview}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "topic": self.topic,
            "message_id": self.message_id,
            "key": self.key,
            "properties": dict(self.properties),
            "publish_time_ms": self.publish_time_ms,
            "event_time_ms": self.event_time_ms,
            "redelivery_count": self.redelivery_count,
            "size": self.size,
            "preview_kind": self.preview_kind,
            "preview": self.preview,
        }


class MessagePeek:
    """One worker's samples: `due(now_ns)` is the hot-path check, `add` runs when it is due."""

    __slots__ = ("worker", "samples", "next_ns", "every_ns")

    def __init__(self, worker: str, every_ns: int = PEEK_EVERY_NS, keep: int = PEEK_KEEP) -> None:
        self.worker = worker
        self.samples: deque[MessageSample] = deque(maxlen=keep)
        self.every_ns = every_ns
        self.next_ns = 0

    def add(self, msg: ReceivedMessage, now_ns: int) -> None:
        self.next_ns = now_ns + self.every_ns
        self.samples.append(MessageSample.of(msg, self.worker, now_ns))


def newest(peeks: list[MessagePeek], n: int) -> list[MessageSample]:
    """The newest `n` samples over every worker, oldest first."""
    every = [s for p in peeks for s in list(p.samples)]
    every.sort(key=lambda s: s.received_ns)
    return every[-n:] if n > 0 else []
