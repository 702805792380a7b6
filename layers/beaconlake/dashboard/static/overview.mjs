// The overview: the cards (click one to chart it), the chart, and the panels with their tabs.
import { html, useEffect, useState } from "./vendor/htm-preact.mjs";
import { ApiError, call, downloadCsv, query, useAsync } from "./api.mjs";
import { Bar, LineChart } from "./charts.mjs";
import { COUNTS, change, comparisonDays, intervalFor, labelSeconds, metric, num, unavailable } from "./format.mjs";
import { HEADINGS, dimName, filterValue, valueName } from "./labels.mjs";
import { PANELS, cardsFor, cellText, columnHeading, panelState, tabMetrics, tabOf } from "./panels.mjs";

const smallK = (ctx, res) => (res.data && res.data.meta && res.data.meta.small_counts?.k) || ctx.k;

function Cards({ ctx }) {
  const cards = cardsFor(ctx);
  const body = {
    site_id: ctx.site,
    metrics: cards.map(([m]) => m),
    date_range: ctx.range,
    filters: ctx.filters,
    ...(ctx.compare !== "off" && { include: { comparisons: { mode: ctx.compare } } }),
  };
  const res = useAsync(() => query(body), JSON.stringify(body));
  const row = res.data && res.data.results[0];
  const k = smallK(ctx, res);
  const chosen = ctx.chartMetric;
  // against a previous period without visitors every change is "—"
  const before = row && row.comparison ? row.comparison.metrics[0] : null;
  const meta = res.data && res.data.meta;
  return html`<section class="cards" data-panel="cards" data-state=${panelState(res)} aria-label="Totals"
      data-goal-mode=${ctx.goalMode ? "1" : ""}>
    ${cards.map(([m, label], i) => {
      const value = row ? row.metrics[i] : null;
      const prev = row && row.comparison ? row.comparison.metrics[i] : null;
      const delta = row && row.comparison ? change(m, row.comparison.change[i], before ? prev : null) : null;
      const na = unavailable(meta, m);
      return html`<button type="button" class="card" data-metric=${m} data-value=${value ?? ""}
          data-unavailable=${na ? "1" : ""} aria-pressed=${chosen === m}
          title=${na ? na.title : `Chart ${label.toLowerCase()}`} onClick=${() => ctx.update({ metric: m })}>
        <span class="label">${label}</span>
        <strong>${row ? (na ? na.text : metric(m, value, k)) : "…"}</strong>
        ${delta &&
        html`<span class=${`delta ${delta.good ? "good" : delta.bad ? "bad" : ""}`} data-change=${delta.text}
          title=${delta.none ? "nothing to compare with" : `previous: ${metric(m, prev, k)}`}>${delta.text}</span>`}
      </button>`;
    })}
    <${Live} ctx=${ctx} />
    ${meta && meta.visitors_are_visits &&
    html`<p class="note" data-note="visitors-are-visits" style="grid-column: 1 / -1">Visitors = visits in this mode: no visitor id is stored, so every event is its own visit.</p>`}
    ${res.error && html`<p class="error" role="alert">${res.error.message}</p>`}
  </section>`;
}

export async function realtimeVisitors(ctx) {
  if (ctx.info.features.realtime) {
    try {
      return await call("GET", `/api/v2/realtime?site_id=${encodeURIComponent(ctx.site)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) throw err;
    }
  }
  const now = new Date();
  const range = [new Date(now - 5 * 60_000).toISOString(), now.toISOString()];
  const answer = await query({ site_id: ctx.site, metrics: ["visitors"], date_range: range });
  return { visitors: answer.results[0].metrics[0], series: null };
}

export function useTicker(ms) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setTick((t) => t + 1), ms);
    return () => clearInterval(id);
  }, [ms]);
  return tick;
}

function Live({ ctx }) {
  const tick = useTicker(30_000);
  const res = useAsync(() => realtimeVisitors(ctx), `${ctx.site}|${tick}`);
  const value = res.data ? res.data.visitors : null;
  const na = res.data && unavailable(res.data.meta, "realtime_per_minute");
  return html`<button type="button" class="card live" data-panel="live" data-state=${panelState(res)} data-value=${value ?? ""}
      title=${na ? na.title : "Open the realtime view"} onClick=${() => ctx.update({ view: "realtime" })}>
    <span class="label"><span class="dot" aria-hidden="true"></span> Current visitors</span>
    <strong>${res.data ? (na ? na.text : metric("visitors", value, ctx.k)) : "…"}</strong>
    <span class="delta">last 5 minutes</span>
  </button>`;
}

/** Annotations of the site (GET /api/v1/sites/annotations); none when the route is absent. */
function useAnnotations(ctx) {
  const path = `/api/v1/sites/annotations?site_id=${encodeURIComponent(ctx.site)}`;
  const res = useAsync(() => call("GET", path).catch(() => ({ annotations: [] })), path);
  return (res.data && res.data.annotations) || [];
}

/** Chart points: none after "now", part-buckets marked, nothing before the range start. */
export function chartSeries(answer, index, days, period, today) {
  const labels = answer.meta.time_labels || answer.results.map((r) => r.dimensions[0]);
  const byLabel = new Map(answer.results.map((r) => [r.dimensions[0], r.metrics[index]]));
  const start = labelSeconds(days[0]);
  // meta.now: the site's local time; without it (an older server) the days are UTC
  const now = answer.meta.now
    ? labelSeconds(answer.meta.now.slice(0, 19).replace("T", " "))
    : days[1] >= today
    ? Date.now() / 1000
    : null;
  const partial = new Set(answer.meta.partial_buckets || []);
  let first = 0;
  if (period === "all") {
    first = Math.max(0, labels.findIndex((l) => byLabel.get(l)));
  }
  const kept = labels.slice(first);
  // a bucket after "now" has no value (the server leaves it out of `results`)
  const future = (l) => now != null && labelSeconds(l) > now && !byLabel.has(l);
  return {
    labels: kept,
    x: kept.map((l) => Math.max(labelSeconds(l), start)),
    values: kept.map((l) => (future(l) ? null : byLabel.get(l) ?? 0)),
    partial: new Set(kept.map((l, i) => (partial.has(l) ? i : -1)).filter((i) => i >= 0)),
  };
}

function Chart({ ctx }) {
  const interval = intervalFor(ctx.state, ctx.days);
  const m = ctx.chartMetric;
  const label = (cardsFor(ctx).find(([id]) => id === m) || [m, m])[1];
  const base = {
    site_id: ctx.site,
    metrics: [m],
    dimensions: [`time:${interval}`],
    filters: ctx.filters,
    include: { time_labels: true },
  };
  const compare = ctx.compare;
  const key = JSON.stringify([base, ctx.range, compare]);
  const annotations = useAnnotations(ctx);
  const res = useAsync(async () => {
    const [current, previous] = await Promise.all([
      query({ ...base, date_range: ctx.range }),
      compare === "off" ? null : query({ ...base, date_range: comparisonDays(ctx.days, compare) }).catch(() => null),
    ]);
    return { current, previous };
  }, key);
  let chart = null;
  if (res.data) {
    const { current, previous } = res.data;
    const cur = chartSeries(current, 0, ctx.days, ctx.state.period, ctx.today);
    const lines = [{ key: "visitors", label, values: cur.values }];
    if (previous) {
      const prev = chartSeries(previous, 0, comparisonDays(ctx.days, compare), ctx.state.period, ctx.today).values;
      // no comparison line against a period without data
      if (prev.some((v) => v)) {
        lines.push({ key: "previous", label: `${label} before`, values: cur.labels.map((_, i) => prev[i] ?? null), dashed: true });
      }
    }
    const marks = annotations
      .filter((a) => a.date >= ctx.days[0] && a.date <= ctx.days[1])
      .map((a) => ({ ...a, x: labelSeconds(a.date) }));
    const total = cur.values.reduce((a, b) => a + (b || 0), 0);
    chart = html`<div class="chart-box" data-series=${lines.length} data-points=${cur.values.filter((v) => v != null).length}
        data-partial=${cur.partial.size} data-first=${cur.x.length ? new Date(cur.x[0] * 1000).toISOString().slice(0, 10) : ""}>
      <${LineChart} x=${cur.x} series=${lines} unit=${interval} integer=${COUNTS.includes(m)} partial=${cur.partial}
        annotations=${marks} label=${`${label} per ${interval}; ${COUNTS.includes(m) ? `${num(total)} in all` : ""}`} />
    </div>`;
  }
  return html`<section class="panel wide" data-panel="chart" data-metric=${m} data-state=${panelState(res)}>
    <div class="panel-head">
      <h2>${label}</h2>
      <label class="interval">Per
        <select value=${interval} onChange=${(e) => ctx.update({ interval: e.target.value })}>
          <option value="hour">hour</option><option value="day">day</option>
          <option value="week">week</option><option value="month">month</option>
        </select>
      </label>
    </div>
    ${res.error ? html`<p class="error" role="alert">${res.error.message}</p>` : chart || html`<div class="chart placeholder"></div>`}
  </section>`;
}

export function PropKeys({ ctx, value, onChange }) {
  const span = ctx.range.join(",");
  const path = `/api/dashboard/props?site_id=${encodeURIComponent(ctx.site)}&date_range=${encodeURIComponent(span)}`;
  const res = useAsync(() => call("GET", path), path);
  const keys = (res.data && res.data.props) || [];
  useEffect(() => {
    if (keys.length && !keys.includes(value)) onChange(keys[0]);
  }, [res.data]);
  if (res.data && !keys.length) return html`<p class="empty">No custom properties in this range.</p>`;
  return html`<label class="prop-key">Property
    <select value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${keys.map((k) => html`<option value=${k}>${k}</option>`)}
    </select>
  </label>`;
}

/** Adds a filter for one row's value (unless it is there already). */
export function filterBy(ctx, dim, raw) {
  const value = filterValue(dim, raw);
  if (value == null || ctx.state.filters.some((f) => f.dim === dim && f.value === value)) return;
  ctx.update({ filters: [...ctx.state.filters, { dim, op: "is", value }], details: "" });
}

export function Rows({ ctx, tab, dim, metrics, rows, k, sort }) {
  const max = Math.max(0, ...rows.map((r) => r.metrics[0] || 0));
  return html`<table class=${`rows cols-${metrics.length}`}>
    <thead><tr>
      ${sort ? sort.header(dim, tab.label) : html`<th scope="col">${tab.label}</th>`}
      ${metrics.map((m) => (sort ? sort.header(m, columnHeading(ctx, m), "num") : html`<th scope="col" class="num" data-metric=${m} title=${HEADINGS[m] || ""}>${columnHeading(ctx, m)}</th>`))}
    </tr></thead>
    <tbody>
      ${rows.map((r) => {
        const value = filterValue(dim, r.dimensions[0]);
        return html`<tr data-value=${r.dimensions[0] ?? ""}>
          <td class="label-cell">
            <${Bar} value=${r.metrics[0]} max=${max} />
            ${value == null
              ? html`<span class="row-label">${valueName(dim, null)}</span>`
              : html`<button type="button" class="row-label" title=${`Filter by ${dimName(dim)}: ${valueName(dim, r.dimensions[0])}`}
                  data-filter=${value} onClick=${() => filterBy(ctx, dim, r.dimensions[0])}>${valueName(dim, r.dimensions[0])}</button>`}
          </td>
          ${r.metrics.map((v, i) => html`<td class="num" data-metric=${metrics[i]} data-value=${v ?? ""}>${cellText(ctx, tab, metrics[i], v, r, k)}</td>`)}
        </tr>`;
      })}
    </tbody>
  </table>`;
}

/** A panel's query. Over days whose raw events retention deleted only rollups are left,
 * and they hold visitors by every dimension they keep but not every column (time on page,
 * shares, conversion rates): then the panel asks for visitors alone and says why. */
async function panelQuery(body) {
  try {
    return await query(body);
  } catch (err) {
    if (!(err instanceof ApiError) || err.rule !== "raw_data_expired" || body.metrics.length < 2) throw err;
    return { ...(await query({ ...body, metrics: ["visitors"] })), fewer: err.message };
  }
}

function Panel({ ctx, panel }) {
  const tab = tabOf(ctx, panel);
  const prop = ctx.state.prop || "";
  const setProp = (p) => ctx.replace({ prop: p });
  const dim = tab.id === "props" ? `${tab.dim}${prop}` : tab.dim;
  const noGoals = tab.id === "goals" && !ctx.goals.length;
  const ready = (tab.id !== "props" || prop) && !noGoals;
  const asked = tabMetrics(ctx, tab);
  const base = {
    site_id: ctx.site,
    metrics: asked,
    date_range: ctx.range,
    dimensions: [dim],
    filters: [...ctx.filters, ...(tab.extra || [])],
    pagination: { limit: 10 },
  };
  const key = JSON.stringify(base);
  const res = useAsync(() => (ready ? panelQuery(base) : Promise.resolve(null)), key);
  const fewer = res.data && res.data.fewer;
  const metrics = fewer ? ["visitors"] : asked;
  const body = { ...base, metrics };
  const hideNull = dim.startsWith("visit:utm_") || dim.startsWith("event:props:");
  const rows = ((res.data && res.data.results) || []).filter((r) => !(hideNull && r.dimensions[0] == null));
  const exportCsv = () =>
    downloadCsv({ ...body, pagination: { limit: 10000 } }, `${ctx.site}-${panel.id}-${tab.id}.csv`).catch((err) =>
      alert(err.message),
    );
  const setTab = (id) => ctx.update({ tabs: { ...ctx.state.tabs, [panel.id]: id } });
  return html`<section class="panel" data-panel=${panel.id} data-tab=${tab.id} data-dim=${dim}
      data-state=${ready ? panelState(res) : "ready"}>
    <div class="panel-head">
      <h2>${panel.title}</h2>
      <span class="panel-actions">
        <button type="button" class="csv" aria-label=${`Export ${panel.title} (${tab.label}) as CSV`} onClick=${exportCsv}>CSV</button>
        <button type="button" class="csv details-button" aria-label=${`Details of ${panel.title} (${tab.label})`}
          disabled=${!ready} onClick=${() => ctx.update({ details: `${panel.id}:${tab.id}` })}>Details</button>
      </span>
    </div>
    ${panel.tabs.length > 1 &&
    html`<div class="tabs" role="group" aria-label=${`${panel.title} by`}>
      ${panel.tabs.map(
        (t) => html`<button type="button" aria-pressed=${t.id === tab.id} data-tab=${t.id} onClick=${() => setTab(t.id)}>${t.label}</button>`,
      )}
    </div>`}
    ${tab.id === "props" && html`<${PropKeys} ctx=${ctx} value=${prop} onChange=${setProp} />`}
    ${noGoals
      ? html`<p class="empty">No goals are set up for this site${ctx.info.can_manage ? " (Settings → Goals)" : ""}.</p>`
      : res.error
      ? html`<p class="error" role="alert">${res.error.message}</p>`
      : html`${fewer && html`<p class="note fewer" title=${fewer}>Visitors only: part of this range is kept as rollups.</p>`}
        <${Rows} ctx=${ctx} tab=${tab} dim=${dim} metrics=${metrics} rows=${rows} k=${smallK(ctx, res)} />
        ${!res.loading && !rows.length && html`<p class="empty">Nothing in this range.</p>`}`}
  </section>`;
}

export function Overview({ ctx }) {
  return html`<${Cards} ctx=${ctx} />
    <${Chart} ctx=${ctx} />
    <div class="grid">${PANELS.map((p) => html`<${Panel} key=${p.id} ctx=${ctx} panel=${p} />`)}</div>`;
}
