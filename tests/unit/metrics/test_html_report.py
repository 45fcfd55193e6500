"""The one-file HTML report: the report data embedded intact, uPlot inlined, nothing fetched."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pulsarload.metrics.html_report import (
    DATA_ELEMENT_ID,
    is_html_report,
    render_html_report,
    write_html_report,
)
from pulsarload.metrics.window import SeriesPoint

UPLOT = Path(__file__).resolve().parents[3] / "src" / "pulsarload" / "static" / "uplot"


def points(n: int) -> list[SeriesPoint]:
    lat = {"p50": 1000.0, "p90": 1500.0, "p99": 2000.0, "p99_9": 5000.0, "max": 9000.0, "mean": 1.0}
    return [
        SeriesPoint(
            1_700_000_000.0 + i,
            float(i),
            1.0,
            {"sent": 100.0 * i, "acked": 100.0 * i, "failed": 0.0, "received": 0.0},
            {"publish_latency": lat},
        )
        for i in range(n)
    ]


def read_back(text: str) -> dict:
    match = re.search(
        rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', text, re.S
    )
    assert match
    return json.loads(match.group(1))


def test_the_page_embeds_the_report_and_the_series() -> None:
    hostile = "t</script><script>alert(1)</script>"  # a topic name cannot end the data early
    steps = [{"index": i, "phase": "ramp", "target": 1000.0 * i, "achieved": 990.0 * i,
              "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "p999_ms": 4.0, "errors": 0,
              "client_cpu_percent": 50.0, "passed": i < 3, "failed_because": []}
             for i in range(1, 5)]  # fmt: skip
    report = {
        "schema": "pulsarload.report",
        "meta": {
            "role": "producer",
            "settings": {"topic": hostile},
            "summary": {"msg_rate": 1.0},
            "capacity": {"slo": ["p99_ms<50"], "capacity_msg_s": 2000.0, "steps": steps},
        },
        "final": {},
    }
    text = render_html_report(report, points(5))
    data = read_back(text)
    assert data["report"] == report
    assert data["series"]["acked"] == [0.0, 100.0, 200.0, 300.0, 400.0]
    assert data["series"]["p99_ms"] == [None, 2.0, 2.0, 2.0, 2.0]  # no sample: a gap
    assert text.count("<script>alert(1)") == 0
    assert "&lt;/script&gt;" in text  # the title shows it escaped
    # uPlot is inlined byte for byte; nothing is loaded from elsewhere.
    assert (UPLOT / "uPlot.iife.min.js").read_text() in text
    assert (UPLOT / "uPlot.min.css").read_text() in text
    assert not re.search(r"<script[^>]+src=|<link|https?://(?!github.com/leeoniya)", text)
    for chart in ("chart-rate", "chart-latency", "chart-curve", "chart-steps"):
        assert f'id="{chart}"' in text


def test_uplot_keeps_its_licence_next_to_it() -> None:
    assert "MIT License" in (UPLOT / "LICENSE").read_text()
    assert "(v1.6.32)" in (UPLOT / "uPlot.iife.min.js").read_text()[:200]


def test_write_is_atomic_and_html_is_chosen_by_suffix(tmp_path: Path) -> None:
    assert is_html_report("run.html") and is_html_report("RUN.HTM")
    assert not is_html_report("run.json")
    path = write_html_report(tmp_path / "r.html", {"meta": {"role": "consumer"}}, [])
    assert read_back(path.read_text())["series"]["time"] == []
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
