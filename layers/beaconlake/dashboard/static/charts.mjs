// Charts: a uPlot line chart (vendor/uPlot, loaded as a classic script) and plain-HTML bars.
import { html, useEffect, useRef } from "./vendor/htm-preact.mjs";
import { num } from "./format.mjs";

const COLORS = { visitors: "#4f46e5", pageviews: "#0ea5e9", previous: "#a5b4fc" };

const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");

function tickLabel(seconds, hourly) {
  const d = new Date(seconds * 1000);
  const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  if (!hourly) return day;
  const hour = `${String(d.getUTCHours()).padStart(2, "0")}:00`;
  return d.getUTCHours() === 0 ? `${hour}\n${day}` : hour;
}

/**
 * x: epoch seconds; series: [{label, values, key, dashed}]. Resizes with its box.
 */
export function LineChart({ x, series, hourly, label }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    const width = () => Math.max(280, el.clientWidth);
    const opts = {
      width: width(),
      height: 240,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      axes: [
        {
          incrs: hourly ? [3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400] : [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400],
          values: (_, ticks) => ticks.map((t) => tickLabel(t, hourly)),
          space: 50,
        },
        { values: (_, ticks) => ticks.map((t) => num(t)), size: 50 },
      ],
      series: [
        { value: (_, v) => (v == null ? "" : new Date(v * 1000).toISOString().slice(0, hourly ? 16 : 10).replace("T", " ")) },
        ...series.map((s) => ({
          label: s.label,
          stroke: COLORS[s.key] || "#64748b",
          width: 2,
          dash: s.dashed ? [6, 4] : undefined,
          fill: s.key === "visitors" ? "rgba(79,70,229,0.08)" : undefined,
          points: { show: x.length <= 45 },
          value: (_, v) => (v == null ? "–" : num(v)),
        })),
      ],
    };
    const plot = new window.uPlot(opts, [x, ...series.map((s) => s.values)], el);
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 240 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [x, series, hourly]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${label}></div>`;
}

/** A horizontal bar, `value` out of `max`, behind its label. */
export function Bar({ value, max }) {
  const width = max > 0 ? Math.max(0.5, (100 * value) / max) : 0;
  return html`<span class="bar" style=${{ width: `${width}%` }}></span>`;
}
