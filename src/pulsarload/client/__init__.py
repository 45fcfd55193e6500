"""The native Pulsar client: connections, lookup, producers and consumers over the wire layer.

It owns all socket I/O: one socket and one reader thread per broker connection, request-id
futures with timeouts, keep-alive, reconnect with backoff. Its public names follow the
official Python client (Client, create_producer, subscribe) so code moves over with few changes.
"""
