"""pulsarload: throughput and latency testing for Apache Pulsar on free-threaded CPython.

Layers (imports point down only): wire -> client -> engines -> metrics -> load -> ui,
with config/cli on top and broker beside them. See DESIGN.md.
"""

__version__ = "0.1.0"
