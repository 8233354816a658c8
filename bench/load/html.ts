// A self-contained HTML report of a run: the summary tables and the latency percentile curve
// as inline SVG (no script, no external asset), so the file can be archived or mailed as is.

import { Histogram } from "./histogram.ts";
import { describeRun, formatReport, type LoadReport } from "./report.ts";

const WIDTH = 760;
const HEIGHT = 360;
const MARGIN = { left: 64, right: 24, top: 20, bottom: 48 };
/** The x axis shows percentiles in "nines": 0 = p0, 1 = p90, 2 = p99, 3 = p99.9, ... */
const MAX_NINES = 5;
const POINTS_PER_NINE = 24;
/** Smallest value on the (log) latency axis: 1 microsecond. */
const MIN_AXIS_MS = 0.001;
/** Grid lines within each decade of the latency axis. */
const TICK_MULTIPLES = [1, 2, 5];

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function percentileLabel(nines: number): string {
  if (nines === 0) return "p0";
  const p = 100 * (1 - 10 ** -nines);
  return `p${Number(p.toFixed(nines))}`;
}

/** The latency percentile curve (ms against percentile, spaced in nines) as an SVG element. */
export function latencyChartSvg(report: LoadReport): string {
  const histogram = Histogram.fromJSON(report.latencyHistogram);
  const points = histogram.curve(POINTS_PER_NINE, MAX_NINES).filter(([p]) => p < 1);
  if (points.length === 0) return `<p>No latency was measured.</p>`;
  const maxNines = Math.max(1, Math.ceil(-Math.log10(1 - points[points.length - 1]![0]) - 1e-9));
  // Latency spans decades (tens of microseconds at p50, milliseconds at the tail): log scale.
  const lowMs = 10 ** Math.floor(Math.log10(Math.max(histogram.min / 1000, MIN_AXIS_MS)));
  const highMs = 10 ** Math.ceil(Math.log10(Math.max(histogram.max / 1000, lowMs * 10)));

  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const round = (n: number) => Math.round(n * 10) / 10;
  const x = (nines: number) => round(MARGIN.left + (nines / maxNines) * plotW);
  const y = (valueMs: number) =>
    round(MARGIN.top + plotH - ((Math.log10(Math.max(valueMs, lowMs)) - Math.log10(lowMs)) / Math.log10(highMs / lowMs)) * plotH);

  const path = points
    .map(([p, us], i) => `${i === 0 ? "M" : "L"}${x(-Math.log10(1 - p)).toFixed(1)},${y(us / 1000).toFixed(1)}`)
    .join(" ");
  const parts: string[] = [];
  for (let decade = lowMs; decade <= highMs * 1.001; decade *= 10) {
    for (const m of decade < highMs * 0.999 ? TICK_MULTIPLES : [1]) {
      const v = decade * m;
      parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
      parts.push(`<text x="${MARGIN.left - 8}" y="${y(v) + 4}" text-anchor="end">${Number(v.toPrecision(3))}</text>`);
    }
  }
  for (let n = 0; n <= maxNines; n++) {
    parts.push(`<line x1="${x(n)}" x2="${x(n)}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" class="grid"/>`);
    parts.push(`<text x="${x(n)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${percentileLabel(n)}</text>`);
  }
  const maxY = y(histogram.max / 1000);
  parts.push(`<circle cx="${x(maxNines)}" cy="${maxY}" r="4" class="max"/>`);
  parts.push(`<text x="${x(maxNines) - 8}" y="${maxY - 8}" text-anchor="end">max ${(histogram.max / 1000).toFixed(3)} ms</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="latency by percentile (log scale)">
<style>text{font:12px sans-serif;fill:#333}.grid{stroke:#ddd}.curve{fill:none;stroke:#1f6feb;stroke-width:2}.max{fill:#d1242f}</style>
${parts.join("\n")}
<path d="${path}" class="curve"/>
<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">percentile</text>
<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">latency (ms, log scale)</text>
</svg>`;
}

/** The whole report as one HTML document. */
export function renderHtml(report: LoadReport): string {
  const verdict = report.ok
    ? `<p class="ok">ok: every request answered exactly once</p>`
    : `<p class="fail">FAILED</p><ul>${report.failures.map((f) => `<li>${escape(f)}</li>`).join("")}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gavel load: ${escape(describeRun(report.config))}</title>
<style>
body{font:14px/1.4 sans-serif;margin:2em;max-width:60em;color:#222}
pre{background:#f6f8fa;padding:1em;overflow:auto}
.ok{color:#1a7f37;font-weight:bold}.fail{color:#d1242f;font-weight:bold;font-size:1.3em}
</style></head><body>
<h1>Gavel load run</h1>
<p>${escape(describeRun(report.config))}<br>started ${escape(report.startedAt)}</p>
${verdict}
<h2>Latency by percentile</h2>
${latencyChartSvg(report)}
<h2>Summary</h2>
<pre>${escape(formatReport(report))}</pre>
<h2>Raw report</h2>
<details><summary>JSON</summary><pre>${escape(JSON.stringify({ ...report, latencyHistogram: undefined }, null, 2))}</pre></details>
</body></html>
`;
}
