"""The static HTML report (`--report run.html`): one file that opens offline.

It embeds the same data as the JSON report (`report_data`) plus the run's per-second series, as
JSON in a `<script type="application/json">` element, and draws its charts with uPlot, whose
files (MIT, vendored from npm) are inlined from `pulsarload/static/uplot/`. The page's own
script only turns the embedded data into uPlot options: rate over time, latency percentiles
over time and, for a capacity search, the throughput-latency curve and the percentiles per step.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pulsarload.metrics.export import write_text_atomic
from pulsarload.metrics.window import SeriesPoint

__all__ = ["DATA_ELEMENT_ID", "is_html_report", "render_html_report", "write_html_report"]

#: The id of the element holding the embedded JSON (tests and tools read it back).
DATA_ELEMENT_ID: Final = "pulsarload-report"
_HTML_SUFFIXES: Final = (".html", ".htm")


def is_html_report(path: str | os.PathLike[str]) -> bool:
    """A `--report` path ending in .html/.htm asks for the HTML report instead of JSON."""
    return str(path).lower().endswith(_HTML_SUFFIXES)


@cache
def _uplot(name: str) -> str:
    return (resources.files("pulsarload") / "static" / "uplot" / name).read_text("utf-8")


def series_data(points: Sequence[SeriesPoint], kind: str) -> dict[str, list[float | None]]:
    """Column-wise per-second series (uPlot's data layout): rates in msg/s, latency in ms."""
    cols: dict[str, list[float | None]] = {
        k: []
        for k in ("time", "sent", "acked", "failed", "received", "p50_ms", "p99_ms", "p999_ms")
    }
    for p in points:
        cols["time"].append(round(p.time, 3))
        for name in ("sent", "acked", "failed", "received"):
            cols[name].append(round(p.rates.get(name, 0.0), 2))
        lat = p.latency.get(kind, {})
        measured = p.rates.get("acked" if kind == "publish_latency" else "received", 0.0) > 0
        for key, src in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99_9")):
            # A second without a sample has no latency: a gap in the chart, not a zero.
            cols[key].append(round(lat.get(src, 0.0) / 1000, 3) if measured else None)
    return cols


def _embed(data: Any) -> str:
    """JSON safe inside a <script> element (no '</' or '<!--' can end it early)."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _summary_section(meta: Mapping[str, Any]) -> str:
    summary = meta.get("summary") or {}
    keys = [
        k
        for k in ("elapsed_s", "msg_rate", "mb_rate", "sent", "acked", "received", "failed")
        + ("error_rate", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "e2e_p99_ms")
        if k in summary
    ]
    rows = [[k, summary[k]] for k in keys]
    for t in meta.get("thresholds") or []:
        rows.append([f"threshold {t['threshold']}", "pass" if t["passed"] else "FAIL"])
    return "<h2>Summary (measured part of the run)</h2>" + _table(["figure", "value"], rows)


def _capacity_section(cap: Mapping[str, Any]) -> str:
    found = cap.get("capacity_msg_s")
    conf = cap.get("confidence") or {}
    lines = [
        f"<p class=answer>Capacity: <b>{html.escape(_fmt(found))} msg/s</b> "
        f"meeting {html.escape(', '.join(cap.get('slo', [])))}</p>",
        f"<p>{html.escape(cap.get('statement', ''))}</p>",
        f"<p>Confidence: <b>{html.escape(str(conf.get('level', '-')))}</b>"
        + "".join(f"; {html.escape(n)}" for n in conf.get("notes", []))
        + "</p>",
    ]
    decidable = cap.get("decidable") or {}
    if decidable and not decidable.get("ok", True):
        lines.append(
            "<p class=warn><b>Not decidable under this load</b> (the figure holds for this run "
            "only): " + html.escape("; ".join(decidable.get("reasons", []))) + "</p>"
        )
    if cap.get("limited_by"):
        lines.append(
            f"<p>Limited by: <b>{html.escape(cap['limited_by'])}</b> "
            f"({html.escape(cap.get('limited_why', ''))})</p>"
        )
    load = cap.get("load_average") or {}
    if load:
        lines.append(
            "<p>Load average (1, 5, 15 min): start "
            + html.escape(" ".join(f"{x:.2f}" for x in load.get("start", [])))
            + ", end "
            + html.escape(" ".join(f"{x:.2f}" for x in load.get("end", [])))
            + f" on {html.escape(str(load.get('cpus', '?')))} CPUs</p>"
        )
    rows = [
        [
            s["index"],
            s["phase"],
            s["target"],
            s["achieved"],
            s["p50_ms"],
            s["p95_ms"],
            s["p99_ms"],
            s["p999_ms"],
            s.get("e2e_p99_ms"),
            s["errors"],
            s.get("backlog_slope"),
            s["client_cpu_percent"],
            "pass" if s["passed"] else "FAIL",
            "; ".join(s.get("failed_because", [])),
        ]
        for s in cap.get("steps", [])
    ]
    headers = ["step", "phase", "target", "achieved", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms"]
    headers += ["e2e p99 ms", "errors", "backlog msg/s", "client CPU %", "verdict", "why"]
    return (
        "<h2>Capacity search</h2>"
        + "".join(lines)
        + '<div id="chart-curve"></div><div id="chart-steps"></div>'
        + "<h3>Steps</h3>"
        + _table(headers, rows, "steps")
    )


_PAGE_CSS: Final = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:right;font-size:13px}th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
.answer{font-size:1.3em}.warn{color:#a40000}.uplot{margin:1em 0}.note{color:#666;font-size:13px}
"""

# Turns the embedded data into uPlot charts; all drawing is uPlot's.
_PAGE_JS: Final = """
(function () {
  const DATA = JSON.parse(document.getElementById("%(id)s").textContent);
  const meta = DATA.report.meta || {}, S = DATA.series, cap = meta.capacity;
  const W = Math.max(480, Math.min(1050, window.innerWidth - 60)), H = 300;
  const C = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  const line = (label, i, extra) => Object.assign(
    {label: label, stroke: C[i %% C.length], width: 2, points: {show: false}}, extra || {});
  function plot(id, title, series, data, xTime, xLabel, yLabel) {
    const el = document.getElementById(id);
    if (!el || !data[0].length) return;
    new uPlot({
      title: title, width: W, height: H,
      scales: {x: {time: xTime}},
      series: [{label: xLabel}].concat(series),
      axes: [{label: xTime ? "" : xLabel}, {label: yLabel, size: 70}],
    }, data, el);
  }
  const producer = meta.role !== "consumer";
  const done = producer ? S.acked : S.received;
  const rateSeries = [line(producer ? "acked msg/s" : "received msg/s", 0),
                      line("failed msg/s", 1)];
  const rateData = [S.time, done, S.failed];
  if (cap && cap.steps.length) {
    const target = S.time.map(t => {
      const s = cap.steps.find(s => s.started_at <= t && t <= s.ended_at + 0.5);
      return s ? s.target : null;
    });
    rateSeries.push(line("target msg/s", 2, {dash: [6, 4]}));
    rateData.push(target);
  }
  plot("chart-rate", "Rate over time", rateSeries, rateData, true, "time", "msg/s");
  plot("chart-latency", (producer ? "Publish" : "End-to-end") + " latency over time (per second)",
       [line("p50 ms", 0), line("p99 ms", 1), line("p99.9 ms", 3)],
       [S.time, S.p50_ms, S.p99_ms, S.p999_ms], true, "time", "ms");
  if (cap && cap.steps.length) {
    const steps = cap.steps.slice();
    const keys = [["p50_ms", "p50"], ["p95_ms", "p95"], ["p99_ms", "p99"], ["p999_ms", "p99.9"]];
    if (steps.some(s => s.e2e_p99_ms != null)) keys.push(["e2e_p99_ms", "e2e p99"]);
    const byRate = steps.slice().sort((a, b) => a.achieved - b.achieved);
    plot("chart-curve", "Throughput vs latency (each step, by achieved rate)",
         keys.map((k, i) => line(k[1] + " ms", i, {points: {show: true, size: 7}})),
         [byRate.map(s => s.achieved)].concat(keys.map(k => byRate.map(s => s[k[0]]))),
         false, "achieved msg/s", "ms");
    plot("chart-steps", "Latency percentiles per step (in search order)",
         keys.map((k, i) => line(k[1] + " ms", i, {points: {show: true, size: 7}})),
         [steps.map(s => s.index)].concat(keys.map(k => steps.map(s => s[k[0]]))),
         false, "step", "ms");
  }
})();
"""


def render_html_report(report: Mapping[str, Any], points: Sequence[SeriesPoint]) -> str:
    """The whole page as text (see `write_html_report`)."""
    meta = report.get("meta") or {}
    role = str(meta.get("role", "producer"))
    kind = "publish_latency" if role == "producer" else "e2e_latency"
    data = {"report": report, "series": series_data(points, kind)}
    settings = meta.get("settings") or {}
    title = f"pulsarload {role} report: {settings.get('topic', '')}"
    cap = meta.get("capacity")
    span = ""
    if points:
        span = (
            f"<p class=note>Series: one point per second, {len(points)} points "
            "(the last 15 minutes of the measured run at most).</p>"
        )
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class=note>engine {html.escape(str(meta.get('engine', '-')))}; "
        f"interpreter {html.escape(str((meta.get('interpreter') or {}).get('version', '-')))}</p>",
        _capacity_section(cap) if cap else "",
        '<h2>Over time</h2><div id="chart-rate"></div><div id="chart-latency"></div>',
        span,
        _summary_section(meta),
    ]
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{_uplot('uPlot.min.css')}</style><style>{_PAGE_CSS}</style></head><body>"
        + "".join(body)
        + f'<script type="application/json" id="{DATA_ELEMENT_ID}">{_embed(data)}</script>'
        + f"<script>{_uplot('uPlot.iife.min.js')}</script>"
        + f"<script>{_PAGE_JS % {'id': DATA_ELEMENT_ID}}</script>"
        + "</body></html>\n"
    )


def write_html_report(
    path: str | os.PathLike[str], report: Mapping[str, Any], points: Sequence[SeriesPoint]
) -> Path:
    """Write the one-file HTML report atomically (nothing half-written on failure)."""
    return write_text_atomic(path, render_html_report(report, points))
