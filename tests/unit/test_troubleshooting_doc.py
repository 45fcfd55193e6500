"""Every message docs/troubleshooting.md quotes is one pulsarload prints: its fixed parts are
string literals of the source (a message may be built from several, e.g. an error and a hint)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"
MIN_PIECE = 4  # shorter pieces could match anywhere


def literals() -> list[str]:
    """Every string constant of the package, f-strings' fixed parts included."""
    found: list[str] = []
    for path in (ROOT / "src" / "pulsarload").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return found


def quoted_messages() -> list[str]:
    blocks = re.findall(r"```text\n(.*?)```", PAGE.read_text(), re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def composed(fragment: str, pool: list[str]) -> bool:
    """Whether `fragment` is a run of pieces each found in some literal (greedy, longest first)."""
    rest = fragment
    while rest:
        size = next((n for n in range(len(rest), 0, -1) if any(rest[:n] in lit for lit in pool)), 0)
        if size < min(MIN_PIECE, len(rest)):
            return False
        rest = rest[size:]
    return True


def test_the_page_quotes_messages() -> None:
    messages = quoted_messages()
    assert len(messages) >= 20
    sections = re.findall(r"^## (.+)$", PAGE.read_text(), re.M)
    for topic in ("unreachable", "TLS", "Token", "ConsumerBusy", "Topic not found", "schema",
                  "non-persistent", "GIL", "Ports taken"):  # fmt: skip
        assert any(topic.lower() in s.lower() for s in sections), topic


def test_every_quoted_message_is_printed_by_pulsarload() -> None:
    pool = literals()
    missing = []
    for message in quoted_messages():
        for fragment in message.split("…"):
            fragment = fragment.strip()
            if fragment and not composed(fragment, pool):
                missing.append(f"{fragment!r} (in {message!r})")
    assert not missing, "\n".join(missing)


def test_a_message_pulsarload_does_not_print_is_caught() -> None:
    assert not composed("the broker is on holiday; try again tomorrow", literals())
