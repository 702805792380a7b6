// Charts: a uPlot line chart (vendor/uPlot, loaded as a classic script) and plain-HTML bars.
// Times on the x axis are the site's local wall-clock times, written as if they were UTC.
import { html, useEffect, useRef } from "./vendor/htm-preact.mjs";
import { num } from "./format.mjs";

const COLORS = { visitors: "#4f46e5", pageviews: "#0ea5e9", previous: "#a5b4fc" };
const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
const INTEGER_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
const TIME_STEPS = {
  minute: [60, 5 * 60, 10 * 60, 15 * 60, 30 * 60],
  hour: [3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400],
  day: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400],
  week: [7 * 86400, 14 * 86400, 28 * 86400, 56 * 86400],
  month: [28 * 86400, 91 * 86400, 182 * 86400, 365 * 86400],
};

const pad = (n) => String(n).padStart(2, "0");

function tickLabel(seconds, unit) {
  const d = new Date(seconds * 1000);
  const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  if (unit === "minute") return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (unit === "month") return `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  if (unit !== "hour") return day;
  const hour = `${pad(d.getUTCHours())}:00`;
  return d.getUTCHours() === 0 ? `${hour}\n${day}` : hour;
}

function legendTime(v, unit) {
  if (v == null) return "";
  const iso = new Date(v * 1000).toISOString();
  if (unit === "minute" || unit === "hour") return iso.slice(0, 16).replace("T", " ");
  if (unit === "month") return iso.slice(0, 7);
  return iso.slice(0, 10);
}

const cssVar = (name, fallback) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/**
 * A series with partial buckets drawn apart: the solid line skips them, a dashed one joins
 * each partial point to its neighbours.
 */
function splitPartial(values, partial) {
  if (!partial || !partial.size) return [values, null];
  const solid = values.map((v, i) => (partial.has(i) ? null : v));
  const dashed = values.map((v, i) => (partial.has(i) || partial.has(i - 1) || partial.has(i + 1) ? v : null));
  return [solid, dashed];
}

function placeMarkers(u, markers, box) {
  for (const { el, x } of markers) {
    const left = u.valToPos(x, "x");
    el.hidden = !(left >= 0 && left <= u.over.clientWidth);
    el.style.left = `${left}px`;
  }
  box.dataset.markers = String(markers.filter((m) => !m.el.hidden).length);
}

/**
 * x: epoch seconds; series: [{label, values, key, dashed}]; unit: minute|hour|day|week|month;
 * integer: whole-number y ticks (counts); partial: indices of part-buckets (drawn dashed);
 * annotations: [{x, text}] (a marker with a tooltip). Resizes with its box.
 */
export function LineChart({ x, series, unit = "day", integer = false, partial = null, annotations = [], label }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    const width = () => Math.max(260, el.clientWidth);
    const muted = cssVar("--muted", "#6b7280");
    const grid = cssVar("--line", "#e5e7eb");
    const data = [x];
    const uSeries = [{ value: (_, v) => legendTime(v, unit) }];
    for (const s of series) {
      const color = COLORS[s.key] || cssVar("--accent", "#4f46e5");
      const [solid, dashed] = s.dashed ? [s.values, null] : splitPartial(s.values, partial);
      const base = {
        stroke: color,
        width: 2,
        points: { show: x.length <= 45 },
        value: (_, v) => (v == null ? "–" : num(v)),
      };
      data.push(solid);
      uSeries.push({
        ...base,
        label: s.label,
        dash: s.dashed ? [6, 4] : undefined,
        fill: s.key !== "previous" && !s.dashed ? "rgba(79,70,229,0.08)" : undefined,
      });
      if (dashed) {
        data.push(dashed);
        uSeries.push({ ...base, label: `${s.label} (part)`, dash: [3, 4], width: 2, alpha: 0.5, partOf: s.key });
      }
    }
    const markers = [];
    const opts = {
      width: width(),
      height: 240,
      legend: { live: true },
      padding: [12, 24, 0, 0],
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: integer ? { range: (_, min, max) => [0, Math.max(max <= 0 ? 1 : max * 1.08, 1)] } : {},
      },
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      axes: [
        {
          stroke: muted,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          incrs: TIME_STEPS[unit] || TIME_STEPS.day,
          // months differ in length: tick on the buckets themselves, as many as fit
          ...(unit === "month" && {
            splits: (u) => {
              const fit = Math.max(1, Math.floor(u.bbox.width / devicePixelRatio / 80));
              const step = Math.ceil(x.length / fit);
              return x.filter((_, i) => i % step === 0);
            },
          }),
          values: (_, ticks) => ticks.map((t) => tickLabel(t, unit)),
          space: unit === "month" ? 70 : 50,
        },
        {
          stroke: muted,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          size: 50,
          ...(integer && { incrs: INTEGER_STEPS }),
          values: (_, ticks) => {
            const labels = ticks.map((t) => num(t));
            el.dataset.yticks = labels.join(" ");
            return labels;
          },
        },
      ],
      series: uSeries,
      hooks: { draw: [(u) => placeMarkers(u, markers, el)] },
    };
    const plot = new window.uPlot(opts, data, el);
    // the dashed part-bucket series are drawn, not listed in the legend
    const rows = plot.root.querySelectorAll(".u-legend .u-series");
    uSeries.forEach((s, i) => s.partOf && rows[i] && (rows[i].hidden = true));
    for (const a of annotations) {
      const marker = document.createElement("button");
      marker.type = "button";
      marker.className = "annotation";
      marker.title = `${a.date}: ${a.text}`;
      marker.setAttribute("aria-label", `Annotation ${a.date}: ${a.text}`);
      marker.dataset.date = a.date;
      plot.over.append(marker);
      markers.push({ el: marker, x: a.x });
    }
    placeMarkers(plot, markers, el);
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 240 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [x, series, unit, integer, partial, annotations]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${label}></div>`;
}

/** A horizontal bar, `value` out of `max`, behind its label. */
export function Bar({ value, max }) {
  const width = max > 0 && value > 0 ? Math.max(0.5, (100 * value) / max) : 0;
  return html`<span class="bar" style=${{ width: `${width}%` }}></span>`;
}
