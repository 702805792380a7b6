// The realtime view: visitors in the last 5 minutes, a per-minute chart of the last 30, and
// the top pages and sources of those 30 minutes. Refreshes every 15 seconds.
import { html } from "./vendor/htm-preact.mjs";
import { call, query, useAsync } from "./api.mjs";
import { LineChart } from "./charts.mjs";
import { metric } from "./format.mjs";
import { Rows, realtimeVisitors, useTicker } from "./overview.mjs";
import { panelState } from "./panels.mjs";

const LISTS = [
  { id: "pages", label: "Page", dim: "event:page" },
  { id: "sources", label: "Source", dim: "visit:source" },
];

function lastMinutes(n) {
  const now = new Date();
  return [new Date(now - n * 60_000).toISOString(), now.toISOString()];
}

/** The per-minute series as chart data: 30 minutes, missing minutes as 0. */
function minutes(series) {
  const by = new Map(series.map((p) => [p.minute.slice(0, 16), p]));
  const end = Math.floor(Date.now() / 60_000) * 60;
  const x = [];
  const visitors = [];
  const pageviews = [];
  for (let t = end - 29 * 60; t <= end; t += 60) {
    const p = by.get(new Date(t * 1000).toISOString().slice(0, 16));
    x.push(t);
    visitors.push(p ? p.visitors : 0);
    pageviews.push(p ? p.pageviews : 0);
  }
  return { x, visitors, pageviews };
}

function NowList({ ctx, list, tick }) {
  const body = {
    site_id: ctx.site,
    metrics: ["visitors"],
    date_range: lastMinutes(30),
    dimensions: [list.dim],
    filters: ctx.filters,
    pagination: { limit: 10 },
  };
  const res = useAsync(() => query(body), `${ctx.site}|${list.id}|${JSON.stringify(ctx.filters)}|${tick}`);
  const rows = (res.data && res.data.results) || [];
  const tab = { id: list.id, label: list.label };
  return html`<section class="panel" data-panel=${`realtime-${list.id}`} data-dim=${list.dim} data-state=${panelState(res)}>
    <div class="panel-head"><h2>Top ${list.id} (last 30 minutes)</h2></div>
    ${res.error
      ? html`<p class="error" role="alert">${res.error.message}</p>`
      : html`<${Rows} ctx=${ctx} tab=${tab} dim=${list.dim} metrics=${["visitors"]} rows=${rows}
          k=${(res.data && res.data.meta.small_counts?.k) || ctx.k} />
        ${!res.loading && !rows.length && html`<p class="empty">Nobody in the last 30 minutes.</p>`}`}
  </section>`;
}

function useBackend(ctx) {
  const res = useAsync(async () => {
    if (ctx.info.backend) return ctx.info.backend;
    try {
      return (await call("GET", "/health")).backend || "";
    } catch (err) {
      return (err.status === 503 && "") || "";
    }
  }, "backend");
  return res.data || "";
}

function delayText(seconds) {
  if (!seconds) return "few minutes";
  return seconds % 60 ? `${seconds} s` : `${seconds / 60} minute${seconds === 60 ? "" : "s"}`;
}

export function RealtimeView({ ctx }) {
  const tick = useTicker(15_000);
  const res = useAsync(() => realtimeVisitors(ctx), `${ctx.site}|${tick}`);
  const backend = useBackend(ctx);
  const data = res.data;
  const chart = data && data.series ? minutes(data.series) : null;
  const series = chart && [
    { key: "visitors", label: "Visitors", values: chart.visitors },
    { key: "pageviews", label: "Pageviews", values: chart.pageviews },
  ];
  return html`<section class="realtime">
    <div class="cards">
      <div class="card live" data-panel="realtime" data-state=${panelState(res)} data-value=${data ? data.visitors ?? "" : ""}>
        <span class="label"><span class="dot" aria-hidden="true"></span> Visitors in the last 5 minutes</span>
        <strong>${data ? metric("visitors", data.visitors, ctx.k) : "…"}</strong>
        <span class="delta">updates every 15 s</span>
      </div>
    </div>
    ${backend === "aws" &&
    html`<p class="note" data-note="delay">On AWS an event is counted only once Kinesis Data Firehose has
      written it to S3, which it does every ${delayText(ctx.info.delivery_delay_seconds)} (its buffer, cdk.json's
      firehose_buffer_seconds; less for busy sites): the most recent minutes fill in late, so these
      figures can show fewer visitors than are on the site right now.</p>`}
    <section class="panel wide" data-panel="realtime-chart" data-state=${panelState(res)}>
      <div class="panel-head"><h2>Per minute, last 30 minutes</h2></div>
      ${res.error
        ? html`<p class="error" role="alert">${res.error.message}</p>`
        : chart
        ? html`<div class="chart-box" data-points=${chart.x.length}>
            <${LineChart} x=${chart.x} series=${series} unit="minute" integer=${true}
              label=${`Visitors and pageviews per minute, last 30 minutes`} />
          </div>`
        : data
        ? html`<p class="empty">The per-minute series is not available on this server.</p>`
        : html`<div class="chart placeholder"></div>`}
    </section>
    <div class="grid">${LISTS.map((l) => html`<${NowList} key=${l.id} ctx=${ctx} list=${l} tick=${tick} />`)}</div>
  </section>`;
}
