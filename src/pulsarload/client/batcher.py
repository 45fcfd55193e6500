"""Batch containers of a producer: where `send`/`send_async` messages wait to go out together.

Two kinds, as in the official clients (`batching_type`):

- `BatchingType.Default`: one open batch; every message joins it, whatever its key. The batch's
  outer MessageMetadata carries the *first* message's partition key and ordering key, as the
  official clients' batchers set it: the broker dispatches a whole entry on that key (Key_Shared
  subscriptions, compaction), so a batch mixing keys goes where its first key goes.
- `BatchingType.KeyBased`: one open batch per key (the ordering key when a message has one,
  else its partition key; messages without either share one batch), so every entry carries one
  key and a Key_Shared subscription keeps each key on one consumer. The limits on messages and
  bytes count all open batches together; when one is reached, or the batch delay of the oldest
  passes, every open batch goes out, in the order of their first sequence ids (the C++ client's
  `BatchMessageKeyBasedContainer` does the same).

A container only collects encoded pieces; the producer (holding its send lock) builds the
frames from what `take()` returns.
"""

from __future__ import annotations

import math
from typing import Any

from pulsarload.client.settings import BatchingType

__all__ = ["BatchContainer", "KeyBasedContainer", "OpenBatch", "batch_container"]


class OpenBatch:
    """Messages collected for one SEND: encoded pieces, their completions, sequence range,
    and the keys the entry will carry (those of its first message, with whether its partition
    key is base64 of bytes)."""

    __slots__ = (
        "callbacks",
        "first_seq",
        "key_b64",
        "last_seq",
        "nbytes",
        "ordering_key",
        "partition_key",
        "pieces",
    )

    def __init__(
        self,
        seq: int,
        partition_key: str | None,
        ordering_key: bytes | None,
        key_b64: bool = False,
    ) -> None:
        self.pieces: list[bytes] = []
        self.callbacks: list[Any] = []
        self.nbytes = 0
        self.first_seq = seq
        self.last_seq = seq
        self.partition_key = partition_key
        self.ordering_key = ordering_key
        self.key_b64 = key_b64


class BatchContainer:
    """The default container: one open batch for every message."""

    __slots__ = ("_batches", "deadline", "messages", "nbytes")

    def __init__(self) -> None:
        self._batches: dict[Any, OpenBatch] = {}
        #: Messages and bytes in all open batches together (what the limits count).
        self.messages = 0
        self.nbytes = 0
        #: When the oldest open batch is due (monotonic seconds; inf when empty).
        self.deadline = math.inf

    def __bool__(self) -> bool:
        return self.messages > 0

    @staticmethod
    def _group(partition_key: str | None, ordering_key: bytes | None) -> Any:
        return None

    def add(
        self,
        piece: bytes,
        done: Any,
        seq: int,
        partition_key: str | None,
        ordering_key: bytes | None,
        deadline: float,
        key_b64: bool = False,
    ) -> bool:
        """Add one encoded message; True when it opened the container (the caller arms the
        batch timer with `deadline`, which is kept only then). `key_b64`: the partition key
        is base64 of bytes (a KEY_VALUE SEPARATED key)."""
        group = self._group(partition_key, ordering_key)
        batch = self._batches.get(group)
        if batch is None:
            batch = self._batches[group] = OpenBatch(seq, partition_key, ordering_key, key_b64)
        batch.pieces.append(piece)
        batch.callbacks.append(done)
        batch.nbytes += len(piece)
        batch.last_seq = seq
        opened = self.messages == 0
        if opened:
            self.deadline = deadline
        self.messages += 1
        self.nbytes += len(piece)
        return opened

    def take(self) -> list[OpenBatch]:
        """Every open batch, oldest first sequence id first; the container is empty after."""
        batches = sorted(self._batches.values(), key=lambda b: b.first_seq)
        self._batches = {}
        self.messages = 0
        self.nbytes = 0
        self.deadline = math.inf
        return batches


class KeyBasedContainer(BatchContainer):
    """One open batch per key (ordering key first, else partition key)."""

    __slots__ = ()

    @staticmethod
    def _group(partition_key: str | None, ordering_key: bytes | None) -> Any:
        if ordering_key is not None:
            return ordering_key
        return partition_key.encode() if partition_key is not None else None


def batch_container(kind: BatchingType) -> BatchContainer:
    """The container for a producer's `batching_type`."""
    return KeyBasedContainer() if kind == BatchingType.KeyBased else BatchContainer()
