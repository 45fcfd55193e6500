"""Consumer and reader settings: enums, policies and the validated `ConsumerConfig`.

Names and defaults follow the official Python client (`Client.subscribe`, `create_reader`,
`ConsumerDeadLetterPolicy`, `ConsumerKeySharedPolicy`, `ConsumerBatchReceivePolicy`); every enum
argument also takes its name in any case (`"key_shared"`, `"earliest"`). All checks run here,
before any socket is opened, and a bad value raises `InvalidConfiguration` (a `ValueError`)
whose message starts with the argument's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from pulsarload.client.errors import InvalidConfiguration
from pulsarload.client.schema.schemas import Schema
from pulsarload.client.settings import _check_properties, check_schema, coerce_enum
from pulsarload.client.settings import check_int as _check_int
from pulsarload.client.topics import TopicName, topic_name
from pulsarload.wire import enums as wire
from pulsarload.wire.message_id import EARLIEST, LATEST, MessageId

__all__ = [
    "ConsumerBatchReceivePolicy",
    "ConsumerConfig",
    "ConsumerCryptoFailureAction",
    "ConsumerDeadLetterPolicy",
    "ConsumerKeySharedPolicy",
    "ConsumerType",
    "InitialPosition",
    "KeySharedMode",
    "RegexSubscriptionMode",
    "SubscriptionMode",
    "TopicPattern",
    "parse_seek_target",
]

#: The Java client's floor for an ack timeout (the C++ one asks for 10 s; 1 s keeps tests short).
MIN_ACK_TIMEOUT_MS = 1000


class ConsumerType(IntEnum):
    """Subscription type: the official names, the wire's values (CommandSubscribe.subType)."""

    Exclusive = wire.SubType.Exclusive
    Shared = wire.SubType.Shared
    Failover = wire.SubType.Failover
    KeyShared = wire.SubType.Key_Shared


class InitialPosition(IntEnum):
    """Where a new subscription starts: the official names, the wire's values
    (CommandSubscribe.initialPosition)."""

    Latest = wire.InitialPosition.Latest
    Earliest = wire.InitialPosition.Earliest


class SubscriptionMode(IntEnum):
    """Durable subscriptions keep their position on the broker; non-durable ones vanish with
    the consumer (what readers use)."""

    Durable = 0
    NonDurable = 1


class KeySharedMode(IntEnum):
    """Key_Shared hash-range assignment: by the broker (AutoSplit) or fixed ranges (Sticky)."""

    AutoSplit = wire.KeySharedMode.AUTO_SPLIT
    Sticky = wire.KeySharedMode.STICKY


class RegexSubscriptionMode(IntEnum):
    """Which topics a pattern subscription lists: the official names, the wire's values
    (GetTopicsOfNamespace.mode)."""

    PersistentOnly = wire.TopicsMode.PERSISTENT
    NonPersistentOnly = wire.TopicsMode.NON_PERSISTENT
    AllTopics = wire.TopicsMode.ALL


class ConsumerCryptoFailureAction(IntEnum):
    """What a consumer does with a message it cannot decrypt (the official enum)."""

    FAIL = 0  # do not deliver it; it stays unacknowledged on the broker
    DISCARD = 1  # acknowledge it and drop it
    CONSUME = 2  # deliver the still-encrypted payload (its encryption_context says so)


#: Key_Shared hashes land in [0, 65535].
KEY_SHARED_HASH_RANGE = 65536


@dataclass(frozen=True, slots=True)
class ConsumerDeadLetterPolicy:
    """Send a message to a dead-letter topic once it was redelivered `max_redeliver_count`
    times and is negatively acknowledged (or times out) again.

    `dead_letter_topic` ("" or None: `<topic>-<subscription>-DLQ`); `initial_subscription_name`,
    when set, is created on the DLQ topic so its messages are retained. Unset names read back
    as "", as in the official client.
    """

    max_redeliver_count: int
    dead_letter_topic: str | None = ""
    initial_subscription_name: str | None = ""

    def __post_init__(self) -> None:
        _check_int("dead_letter_policy.max_redeliver_count", self.max_redeliver_count, 1)
        if self.dead_letter_topic:
            object.__setattr__(
                self,
                "dead_letter_topic",
                topic_name(self.dead_letter_topic, "dead_letter_policy.dead_letter_topic"),
            )
        elif self.dead_letter_topic is None:
            object.__setattr__(self, "dead_letter_topic", "")
        sub = self.initial_subscription_name
        if sub is None:
            object.__setattr__(self, "initial_subscription_name", "")
        elif not isinstance(sub, str):
            raise InvalidConfiguration(
                f"dead_letter_policy.initial_subscription_name: expected a string, got {sub!r}"
            )


@dataclass(frozen=True, slots=True)
class ConsumerKeySharedPolicy:
    """Key_Shared settings: AutoSplit (the broker splits hash ranges) or Sticky ranges.

    `sticky_ranges` are inclusive (start, end) pairs within [0, 65535], not overlapping; read
    back as a list of pairs (empty when none), as the official client gives them.
    """

    key_shared_mode: KeySharedMode | str = KeySharedMode.AutoSplit
    allow_out_of_order_delivery: bool = False
    sticky_ranges: Sequence[tuple[int, int]] | None = None

    def __hash__(self) -> int:
        ranges = tuple(self.sticky_ranges or ())
        return hash((self.key_shared_mode, self.allow_out_of_order_delivery, ranges))

    def __post_init__(self) -> None:
        mode = coerce_enum(KeySharedMode, self.key_shared_mode, "key_shared_policy.key_shared_mode")
        object.__setattr__(self, "key_shared_mode", mode)
        ranges = tuple(tuple(r) for r in (self.sticky_ranges or ()))
        if mode is KeySharedMode.Sticky and not ranges:
            raise InvalidConfiguration(
                "key_shared_policy.sticky_ranges: Sticky mode needs at least one (start, end) range"
            )
        if mode is KeySharedMode.AutoSplit and ranges:
            raise InvalidConfiguration(
                "key_shared_policy.sticky_ranges: ranges are only allowed in Sticky mode"
            )
        last_end = -1
        for pair in sorted(ranges):
            if len(pair) != 2:
                raise InvalidConfiguration(
                    f"key_shared_policy.sticky_ranges: {pair!r} is not a (start, end) pair"
                )
            start, end = pair
            _check_int("key_shared_policy.sticky_ranges start", start, 0, KEY_SHARED_HASH_RANGE - 1)
            _check_int("key_shared_policy.sticky_ranges end", end, start, KEY_SHARED_HASH_RANGE - 1)
            if start <= last_end:
                raise InvalidConfiguration(
                    f"key_shared_policy.sticky_ranges: range {pair} overlaps the one before it"
                )
            last_end = end
        object.__setattr__(self, "sticky_ranges", sorted(ranges))


@dataclass(frozen=True, slots=True)
class ConsumerBatchReceivePolicy:
    """Limits of one `batch_receive()`: at most `max_num_message` messages (-1: no limit) and
    about `max_num_bytes` bytes (-1: no limit), waiting at most `timeout_ms` for the batch to
    fill (-1: until a limit is reached, as in the official client)."""

    max_num_message: int = -1
    max_num_bytes: int = 10 * 1024 * 1024
    timeout_ms: int = 100

    def __post_init__(self) -> None:
        _check_int("batch_receive_policy.max_num_message", self.max_num_message, -1)
        _check_int("batch_receive_policy.max_num_bytes", self.max_num_bytes, -1)
        _check_int("batch_receive_policy.timeout_ms", self.timeout_ms, -1)
        if self.max_num_message == 0 or (
            self.max_num_message < 0 and self.max_num_bytes < 0 and self.timeout_ms <= 0
        ):
            raise InvalidConfiguration(
                "batch_receive_policy: set a message count, a byte limit or a timeout"
            )


@dataclass(frozen=True, slots=True)
class TopicPattern:
    """A regex subscription: the namespace to list and the compiled pattern, matched against
    topic names without their domain and partition suffix. As in the official clients, the
    domain (`persistent://`, `non-persistent://`, or none) does not filter: the
    subscription's `regex_subscription_mode` decides which kinds of topic are listed."""

    namespace: str
    domain: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, pattern: str | re.Pattern[str]) -> TopicPattern:
        """Accept `persistent://tenant/ns/regex`, `tenant/ns/regex` or a bare `regex`
        (public/default); the tenant and namespace must be literal."""
        text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        if not isinstance(text, str) or not text:
            raise InvalidConfiguration(f"topic: expected a non-empty regex, got {pattern!r}")
        domain = "persistent"
        rest = text
        for d in ("persistent", "non-persistent"):
            if text.startswith(f"{d}://"):
                domain, rest = d, text[len(d) + 3 :]
                break
        parts = rest.split("/", 2)
        if len(parts) == 3:
            tenant, ns, local = parts
        elif len(parts) == 1:
            tenant, ns, local = "public", "default", parts[0]
        else:
            raise InvalidConfiguration(
                f"topic: pattern {text!r} must look like persistent://tenant/namespace/regex"
            )
        probe = TopicName.parse(f"{domain}://{tenant}/{ns}/x", "topic pattern")
        if not local:
            raise InvalidConfiguration(f"topic: pattern {text!r} has an empty topic regex")
        flags = pattern.flags if isinstance(pattern, re.Pattern) else 0
        full = f"{re.escape(f'{tenant}/{ns}/')}(?:{local})"
        try:
            regex = re.compile(full, flags)
        except re.error as err:
            raise InvalidConfiguration(f"topic: bad regex {local!r}: {err}") from None
        return cls(f"{probe.tenant}/{probe.namespace}", domain, regex)

    def matches(self, topic: str) -> bool:
        """Whether `topic` (a full name, any domain) matches, its domain left out."""
        return self.regex.fullmatch(topic.split("://", 1)[-1]) is not None


def _check_name(name: str, value: object, allow_none: bool = True) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidConfiguration(f"{name}: expected a non-empty string, got {value!r}")
    return value


def parse_seek_target(target: object) -> MessageId | int:
    """A seek target: a `MessageId`, an int (publish time in ms since the epoch), or text:
    `earliest`, `latest`, `LEDGER:ENTRY[:PARTITION[:BATCH]]` or digits (ms since the epoch)."""
    if isinstance(target, MessageId):
        return target
    if isinstance(target, bool):
        raise InvalidConfiguration(f"seek: expected a message id or a timestamp, got {target!r}")
    if isinstance(target, int):
        if target < 0:
            raise InvalidConfiguration(f"seek: timestamp must be >= 0 ms, got {target}")
        return target
    if isinstance(target, str):
        text = target.strip().lower()
        if text == "earliest":
            return EARLIEST
        if text == "latest":
            return LATEST
        if text.isdigit():
            return int(text)
        parts = text.split(":")
        if 2 <= len(parts) <= 4:
            try:
                nums = [int(p) for p in parts]
            except ValueError:
                nums = []
            if nums and nums[0] >= 0 and nums[1] >= 0:
                return MessageId(*nums)
    raise InvalidConfiguration(
        f"seek: {target!r} is not earliest, latest, LEDGER:ENTRY[:PARTITION] or ms since the epoch"
    )


type MessageListener = Callable[[Any, Any], None]


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    """One consumer's settings, validated and normalised (enums, full topic names)."""

    subscription_name: str
    #: One or more full topic names (empty for a pattern subscription).
    topics: tuple[str, ...] = ()
    pattern: TopicPattern | None = None
    consumer_type: ConsumerType = ConsumerType.Exclusive
    initial_position: InitialPosition = InitialPosition.Latest
    subscription_mode: SubscriptionMode = SubscriptionMode.Durable
    receiver_queue_size: int = 1000
    max_total_receiver_queue_size_across_partitions: int = 50000
    consumer_name: str | None = None
    message_listener: MessageListener | None = None
    unacked_messages_timeout_ms: int | None = None
    negative_ack_redelivery_delay_ms: int = 60000
    dead_letter_policy: ConsumerDeadLetterPolicy | None = None
    priority_level: int | None = None
    is_read_compacted: bool = False
    properties: Mapping[str, str] | None = None
    subscription_properties: Mapping[str, str] | None = None
    pattern_auto_discovery_period: float = 60.0
    regex_subscription_mode: RegexSubscriptionMode = RegexSubscriptionMode.PersistentOnly
    replicate_subscription_state_enabled: bool = False
    max_pending_chunked_message: int = 10
    auto_ack_oldest_chunked_message_on_queue_full: bool = False
    expire_time_of_incomplete_chunked_message_ms: int = 60000
    start_message_id_inclusive: bool = False
    batch_receive_policy: ConsumerBatchReceivePolicy = field(
        default_factory=ConsumerBatchReceivePolicy
    )
    key_shared_policy: ConsumerKeySharedPolicy | None = None
    batch_index_ack_enabled: bool = False
    #: Ack grouping (the C++ client's ackGroupingTimeMs / ackGroupingMaxSize); 0 ms: immediate.
    ack_grouping_time_ms: float = 100.0
    ack_grouping_max_size: int = 1000
    #: Readers and non-durable consumers: where to start (None: use initial_position).
    start_message_id: MessageId | None = None
    #: End-to-end encryption: who reads the private keys, and what to do when none fits.
    crypto_key_reader: Any = None
    crypto_failure_action: ConsumerCryptoFailureAction = ConsumerCryptoFailureAction.FAIL
    #: How `Message.value()` decodes payloads and what the broker is told (None: bytes).
    schema: Schema | None = None

    def __post_init__(self) -> None:
        s = object.__setattr__
        check_schema(self.schema)
        _check_name("subscription_name", self.subscription_name, allow_none=False)
        if not self.topics and self.pattern is None:
            raise InvalidConfiguration("topic: give a topic, a list of topics or a regex")
        s(self, "topics", tuple(dict.fromkeys(topic_name(t, "topic") for t in self.topics)))
        s(self, "consumer_type", coerce_enum(ConsumerType, self.consumer_type, "consumer_type"))
        s(
            self,
            "initial_position",
            coerce_enum(InitialPosition, self.initial_position, "initial_position"),
        )
        s(
            self,
            "subscription_mode",
            coerce_enum(SubscriptionMode, self.subscription_mode, "subscription_mode"),
        )
        s(
            self,
            "crypto_failure_action",
            coerce_enum(
                ConsumerCryptoFailureAction, self.crypto_failure_action, "crypto_failure_action"
            ),
        )
        s(
            self,
            "regex_subscription_mode",
            coerce_enum(
                RegexSubscriptionMode, self.regex_subscription_mode, "regex_subscription_mode"
            ),
        )
        # 0: a zero-queue consumer (one permit per receive), which the broker supports.
        _check_int("receiver_queue_size", self.receiver_queue_size, 0, 10_000_000)
        _check_int(
            "max_total_receiver_queue_size_across_partitions",
            self.max_total_receiver_queue_size_across_partitions,
            1,
        )
        _check_name("consumer_name", self.consumer_name)
        if self.message_listener is not None and not callable(self.message_listener):
            raise InvalidConfiguration(
                f"message_listener: expected a callable(consumer, message), "
                f"got {self.message_listener!r}"
            )
        timeout = self.unacked_messages_timeout_ms
        if timeout is not None and timeout != 0:
            _check_int("unacked_messages_timeout_ms", timeout, MIN_ACK_TIMEOUT_MS)
        else:
            s(self, "unacked_messages_timeout_ms", None)
        _check_int("negative_ack_redelivery_delay_ms", self.negative_ack_redelivery_delay_ms, 0)
        if self.dead_letter_policy is not None and not isinstance(
            self.dead_letter_policy, ConsumerDeadLetterPolicy
        ):
            raise InvalidConfiguration(
                f"dead_letter_policy: expected a ConsumerDeadLetterPolicy, "
                f"got {self.dead_letter_policy!r}"
            )
        if self.priority_level is not None:
            _check_int("priority_level", self.priority_level, 0, 2**31 - 1)
        s(self, "properties", _check_properties("properties", self.properties))
        s(
            self,
            "subscription_properties",
            _check_properties("subscription_properties", self.subscription_properties),
        )
        period = self.pattern_auto_discovery_period
        if isinstance(period, bool) or not isinstance(period, int | float) or period <= 0:
            raise InvalidConfiguration(
                f"pattern_auto_discovery_period: expected seconds > 0, got {period!r}"
            )
        _check_int("max_pending_chunked_message", self.max_pending_chunked_message, 1)
        _check_int(
            "expire_time_of_incomplete_chunked_message_ms",
            self.expire_time_of_incomplete_chunked_message_ms,
            0,
        )
        if self.batch_receive_policy is None:
            s(self, "batch_receive_policy", ConsumerBatchReceivePolicy())
        elif not isinstance(self.batch_receive_policy, ConsumerBatchReceivePolicy):
            raise InvalidConfiguration(
                f"batch_receive_policy: expected a ConsumerBatchReceivePolicy, "
                f"got {self.batch_receive_policy!r}"
            )
        ksp = self.key_shared_policy
        if ksp is not None:
            if not isinstance(ksp, ConsumerKeySharedPolicy):
                raise InvalidConfiguration(
                    f"key_shared_policy: expected a ConsumerKeySharedPolicy, got {ksp!r}"
                )
            if self.consumer_type is not ConsumerType.KeyShared:
                raise InvalidConfiguration(
                    "key_shared_policy: only valid with consumer_type KeyShared"
                )
        grouping = self.ack_grouping_time_ms
        if isinstance(grouping, bool) or not isinstance(grouping, int | float) or grouping < 0:
            raise InvalidConfiguration(f"ack_grouping_time_ms: expected ms >= 0, got {grouping!r}")
        _check_int("ack_grouping_max_size", self.ack_grouping_max_size, 1)
        if self.start_message_id is not None and not isinstance(self.start_message_id, MessageId):
            raise InvalidConfiguration(
                f"start_message_id: expected a MessageId, got {self.start_message_id!r}"
            )

    @property
    def durable(self) -> bool:
        return self.subscription_mode is SubscriptionMode.Durable

    @property
    def dead_letter_max(self) -> int:
        """Redeliveries before the DLQ (0: no dead-letter policy)."""
        p = self.dead_letter_policy
        return p.max_redeliver_count if p is not None else 0


def split_topic_argument(topic: object) -> tuple[tuple[str, ...], TopicPattern | None]:
    """`subscribe`'s topic argument: a name, a list of names, or a compiled regex."""
    if isinstance(topic, re.Pattern):
        return (), TopicPattern.parse(topic)
    if isinstance(topic, str):
        return (topic_name(topic, "topic"),), None
    if isinstance(topic, list | tuple):
        if not topic:
            raise InvalidConfiguration("topic: the list of topics is empty")
        return tuple(topic_name(t, "topic") for t in topic), None
    raise InvalidConfiguration(
        f"topic: expected a name, a list of names or a compiled regex, got {topic!r}"
    )
