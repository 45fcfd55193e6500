"""The Pulsar binary protocol, sans-I/O: bytes in, values out, and back; no sockets, threads or clocks.

Modules, bottom up: ``errors`` (``ProtocolError`` and its subtypes: malformed input always raises
one of them), ``protobuf`` (varints and the table-driven proto2 codec), ``enums`` (CommandType,
ServerError, CompressionType, ...), ``messages`` (MessageIdData, MessageMetadata,
SingleMessageMetadata, KeyValue, ...), ``commands`` (the Command* dataclasses and the BaseCommand
envelope), ``frames`` (``encode_command``, payload frames with CRC32C, the incremental
``FrameParser``), ``compression`` and ``snappy`` (codecs with bomb checks), ``batch`` (batch
payloads, the bulk ``SendFrameBuilder``, ``parse_batch``), ``message_id`` (the ordered
``MessageId`` and ack-set helpers) and ``hashing`` (Java-compatible key hashes for routing).
The client layer builds connections, producers and consumers on these; each module's docstring
lists its public API.
"""
