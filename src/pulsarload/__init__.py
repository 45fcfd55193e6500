"""pulsarload: throughput and latency testing for Apache Pulsar on free-threaded CPython.

Layers, bottom up (imports point down only): wire -> client -> config and broker -> engines and
metrics -> load -> ui, web and cluster (siblings) -> cli. docs/design.md is the map: each layer's
job, the threads, and the path of one message from the rate schedule to the socket and back to
the screen.
"""

__version__ = "0.1.0"
