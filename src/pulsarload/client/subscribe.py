"""Which consumer a subscription gets: one topic, several topics or partitions, or a pattern.

`Client.subscribe` checks its arguments into a `ConsumerConfig` and calls
`subscribe_with_config`; the load layer calls it with a ready config.
"""

from __future__ import annotations

from pulsarload.client.consumer import Consumer
from pulsarload.client.consumer_config import ConsumerConfig
from pulsarload.client.handler import ClientServices
from pulsarload.client.multi import MultiTopicsConsumer, PatternConsumer

__all__ = ["subscribe_with_config"]


def subscribe_with_config(
    client: ClientServices, conf: ConsumerConfig
) -> Consumer | MultiTopicsConsumer:
    """Create and start the consumer a `ConsumerConfig` describes: a `PatternConsumer` for a
    regex, a `Consumer` for one non-partitioned topic, else a `MultiTopicsConsumer`."""
    client.check_open()
    if conf.pattern is not None:
        pc = PatternConsumer(client, conf)
        pc._start()
        return pc
    if len(conf.topics) == 1:
        partitions = client.partition_count(conf.topics[0])
        if partitions == 0:
            single = Consumer(client, conf, conf.topics[0])
            single._start()
            return single
    multi = MultiTopicsConsumer(client, conf)
    multi._start()
    return multi
