"""Produce with Apache's official client (run by .venv-gil) and print the message ids as JSON.

    python official_produce.py SERVICE_URL TOPIC COUNT --compression lz4 [--batching]

Message i carries payload `expected_payload(i)` (compressible text), properties {"i": str(i)}
and partition key "k<i>", so the reader can check every byte.
"""

from __future__ import annotations

import argparse
import json
import sys

import pulsar

#: The result line starts with this (the C++ client may log to stdout too).
RESULT_MARKER = "@@RESULT@@ "

CODECS = {
    "none": pulsar.CompressionType.NONE,
    "lz4": pulsar.CompressionType.LZ4,
    "zlib": pulsar.CompressionType.ZLib,
    "zstd": pulsar.CompressionType.ZSTD,
    "snappy": pulsar.CompressionType.SNAPPY,
}


def expected_payload(i: int) -> bytes:
    return (f"official-{i}-" + "pulsar interop text " * (5 + i % 7)).encode()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("service_url")
    ap.add_argument("topic")
    ap.add_argument("count", type=int)
    ap.add_argument("--compression", default="none", choices=sorted(CODECS))
    ap.add_argument("--batching", action="store_true")
    args = ap.parse_args()
    # The C++ client logs to stdout by default; keep warnings and errors, on stderr.
    client = pulsar.Client(
        args.service_url,
        operation_timeout_seconds=30,
        logger=pulsar.FileLogger(pulsar.LoggerLevel.Warn, "/dev/stderr"),
    )
    ids: list[str] = []
    try:
        producer = client.create_producer(
            args.topic,
            compression_type=CODECS[args.compression],
            batching_enabled=args.batching,
            batching_max_messages=args.count if args.batching else 1000,
            batching_max_publish_delay_ms=100,
        )
        results: list[object] = [None] * args.count

        def done(i: int):
            def cb(res, msg_id):
                results[i] = (res, str(msg_id))

            return cb

        for i in range(args.count):
            producer.send_async(
                expected_payload(i), done(i), properties={"i": str(i)}, partition_key=f"k{i}"
            )
        producer.flush()
        for r in results:
            if r is None or r[0] != pulsar.Result.Ok:
                print(f"send failed: {r}", file=sys.stderr)
                return 1
            ids.append(r[1])
        producer.close()
    finally:
        client.close()
    print(RESULT_MARKER + json.dumps(ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
