"""Engines: the small interface the load layer needs from a Pulsar client, with two implementations.

`native` drives our own client (works on free-threaded builds); `official` drives Apache's
`pulsar-client` (C++, GIL builds only), imported only inside its own module so the rest of the
package never depends on it.
"""
