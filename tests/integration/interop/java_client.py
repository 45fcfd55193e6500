"""Run the Java reference client's command-line tool (`pulsar-client`) from the test process.

For interop the official Python client cannot check: it has no KeyValue schema, so KEY_VALUE
is checked against the Java client, whose `produce` sends pairs (`--key-schema`,
`--value-schema`, `--key-value-encoding-type`, one key per run) and whose `consume
--schema-type auto_consume` prints what it decoded. The tool runs from the jars of the local
release with the same java command line as pulsar-perf (`pulsarload.broker.perf`). Tests skip,
with the reason, when Java 17+ or those jars are missing.

`consume` prints each message as `publishTime:[..], eventTime:[..], key:[K], properties:[..],
content:C`, C being Java's `Map.toString()` of the decoded value (`{key={..}, value={..}}` for a
pair; a null field as NULL). `parse_java_map` reads that back for values whose text holds none
of `,{}[]=` (the tests choose theirs so).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pulsarload.broker import jvm
from pulsarload.broker.errors import BrokerError
from pulsarload.broker.maven import lib_dir
from pulsarload.broker.perf import CLIENT_TOOL, tool_command
from pulsarload.config import LocalBrokerSettings

#: What `consume` prints before each message.
MESSAGE_BOUNDARY = "----- got message -----"
#: Joins several messages in one `-m` (`produce` splits on this regex; no message holds it;
#: not `@`, which starts an argument file for the tool's parser).
SEPARATOR = "~~~"
_TOOLS_JAR = "org.apache.pulsar-pulsar-client-tools-{v}.jar"


@functools.cache
def _unavailable() -> str | None:
    try:
        jvm.find_java()
    except BrokerError as err:
        return str(err)
    version = LocalBrokerSettings().pulsar_version
    jar = lib_dir(version) / _TOOLS_JAR.format(v=version)
    if not jar.exists():
        return f"{jar} is missing (`pulsarload broker start` fetches the release's jars)"
    return None


def require_java() -> None:
    reason = _unavailable()
    if reason:
        pytest.skip(f"Java client unavailable: {reason}")


def run_tool(args: list[str], service_url: str, admin_url: str, *, timeout: float) -> str:
    """Run `pulsar-client ARGS` against the broker; its stdout (the log goes there too, at
    warn level). A failure raises AssertionError with the tail of the output."""
    require_java()
    with tempfile.TemporaryDirectory(prefix="pulsar-client-") as conf:
        cmd = tool_command(
            CLIENT_TOOL,
            args,
            LocalBrokerSettings(),
            jvm.find_java(),
            service_url=service_url,
            admin_url=admin_url,
            conf_dir=Path(conf),
            log_level="warn",
        )
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
        )
    if proc.returncode != 0:
        raise AssertionError(
            f"pulsar-client {args[0]} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def produce_key_value(
    service_url: str,
    admin_url: str,
    topic: str,
    *,
    key_schema: str,
    value_schema: str,
    encoding: str,
    key: str,
    values: list[str],
    timeout: float = 120,
) -> None:
    """Send one pair per value, all with `key` (its text is the encoded key: JSON for a
    `json:` key schema), with the Java client's KeyValue schema of `encoding` ("separated" or
    "inline"). A `json:` value is sent as its text; an `avro:` value is given as Avro's JSON
    encoding (`avro_json`), which the tool encodes to Avro binary. Batching stays on, as the
    tool's default: each pair goes as a batch of one."""
    if any(SEPARATOR in v for v in values):
        raise ValueError(f"a value holds the separator {SEPARATOR!r}")
    run_tool(
        [
            "produce", topic,
            "--key-schema", key_schema, "--value-schema", value_schema,
            "--key-value-encoding-type", encoding, "--key-value-key", key,
            "-s", SEPARATOR, "-m", SEPARATOR.join(values),
        ],
        service_url, admin_url, timeout=timeout,
    )  # fmt: skip


@dataclass(frozen=True)
class JavaMessage:
    """One message as `consume` printed it: its message key (None when it has none) and the
    decoded content, parsed."""

    key: str | None
    content: Any


def consume(
    service_url: str,
    admin_url: str,
    topic: str,
    count: int,
    *,
    subscription: str,
    timeout: float = 120,
) -> list[JavaMessage]:
    """Receive `count` messages from the earliest position with AUTO_CONSUME."""
    out = run_tool(
        [
            "consume", topic, "-s", subscription, "-n", str(count),
            "-p", "Earliest", "--schema-type", "auto_consume",
        ],
        service_url, admin_url, timeout=timeout,
    )  # fmt: skip
    return parse_consume_output(out)


_LINE = re.compile(
    r"^(?:publishTime:\[-?\d*\], eventTime:\[-?\d*\], )?key:\[(?P<key>[^\]]*)\], "
    r"(?:properties:\[.*?\], )?content:"
)


def parse_consume_output(text: str) -> list[JavaMessage]:
    """The messages `consume` printed: the line after each boundary (log lines skipped)."""
    messages = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != MESSAGE_BOUNDARY:
            continue
        body = next((m for m in lines[i + 1 :] if _LINE.match(m)), None)
        if body is None:
            raise AssertionError(f"no message line after a boundary in:\n{text[-2000:]}")
        match = _LINE.match(body)
        assert match is not None
        content = body[match.end() :]
        key = match.group("key")
        messages.append(JavaMessage(None if key == "null" else key, parse_java_map(content)))
    return messages


def parse_java_map(text: str) -> Any:
    """Java's `Map.toString()` (`{a=1, b={c=x}}`) as dicts of strings (what follows the map,
    such as metadata the tool may append, is ignored); text that is not a map comes back as it
    is. Scalars stay text: the caller compares them as Java prints them (`java_text`)."""
    text = text.strip()
    if not text.startswith("{"):
        return text
    return _parse_value(text, 0)[0]


def _parse_value(s: str, i: int) -> tuple[Any, int]:
    if s.startswith("{", i):
        out: dict[str, Any] = {}
        i += 1
        if s.startswith("}", i):
            return out, i + 1
        while True:
            eq = s.index("=", i)
            name = s[i:eq]
            value, i = _parse_value(s, eq + 1)
            out[name] = value
            if s.startswith("}", i):
                return out, i + 1
            if not s.startswith(", ", i):
                raise ValueError(f"expected ', ' or '}}' at {i}: {s!r}")
            i += 2
    end = i
    while end < len(s) and s[end] not in ",}":
        end += 1
    return s[i:end], end


def java_text(value: Any) -> Any:
    """How `consume` prints a plain value: dicts field by field, None as NULL, booleans in
    lower case, numbers and text as they are."""
    if isinstance(value, dict):
        return {k: java_text(v) for k, v in value.items()}
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def avro_json(definition: dict[str, Any], value: Any) -> Any:
    """`value` (plain: dicts, enums by name) in Avro's JSON encoding for `definition`, which
    the Java tool reads for an `avro:` value: a non-null branch of a union is wrapped in
    `{"<branch name>": ...}`."""
    return _avro_json(definition, value)


def _avro_json(t: Any, v: Any) -> Any:
    if isinstance(t, list):  # a union: null, or the one other branch, named
        if v is None:
            return None
        branch = next(b for b in t if b != "null")
        name = branch if isinstance(branch, str) else branch.get("name", branch.get("type"))
        return {name: _avro_json(branch, v)}
    if isinstance(t, dict) and t.get("type") == "record":
        return {f["name"]: _avro_json(f["type"], v.get(f["name"])) for f in t["fields"]}
    return v


def dumps(value: Any) -> str:
    """Compact JSON (the text of a `json:` key or value)."""
    return json.dumps(value, separators=(",", ":"))
