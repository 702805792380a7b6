// The dashboard: Preact + HTM, no build step. State lives in the URL (see format.mjs).
import { html, render, useEffect, useRef, useState } from "./vendor/htm-preact.mjs";
import { ApiError, call, downloadCsv, onLoggedOut, query, useAsync } from "./api.mjs";
import { FunnelView, JourneysView, RetentionView, NotAvailable } from "./behaviour.mjs";
import { Bar, LineChart } from "./charts.mjs";
import {
  PERIODS,
  apiFilters,
  change,
  comparisonDays,
  dateRange,
  intervalFor,
  labelSeconds,
  metric,
  num,
  rangeDays,
  readState,
  writeState,
} from "./format.mjs";

const CARDS = [
  ["visitors", "Unique visitors"],
  ["visits", "Visits"],
  ["pageviews", "Pageviews"],
  ["views_per_visit", "Views per visit"],
  ["bounce_rate", "Bounce rate"],
  ["visit_duration", "Visit duration"],
];
// column headings and dimension names: the server's registry (/api/dashboard/sites `names`)
const HEADINGS = {};
const NOT_CUSTOM = ["is_not", "event:name", ["pageview", "engagement"]];
const PANELS = [
  {
    id: "pages",
    title: "Pages",
    tabs: [
      { id: "top", label: "Top pages", dim: "event:page", metrics: ["visitors", "pageviews"] },
      { id: "entry", label: "Entry pages", dim: "visit:entry_page", metrics: ["visitors", "visits"] },
      { id: "exit", label: "Exit pages", dim: "visit:exit_page", metrics: ["visitors", "visits"] },
    ],
  },
  {
    id: "sources",
    title: "Sources",
    tabs: [
      { id: "channels", label: "Channels", dim: "visit:channel", metrics: ["visitors", "bounce_rate"] },
      { id: "sources", label: "Sources", dim: "visit:source", metrics: ["visitors", "bounce_rate"] },
      { id: "utm_source", label: "UTM source", dim: "visit:utm_source", metrics: ["visitors", "bounce_rate"] },
      { id: "utm_medium", label: "UTM medium", dim: "visit:utm_medium", metrics: ["visitors", "bounce_rate"] },
      { id: "utm_campaign", label: "UTM campaign", dim: "visit:utm_campaign", metrics: ["visitors", "bounce_rate"] },
    ],
  },
  {
    id: "countries",
    title: "Countries",
    tabs: [{ id: "countries", label: "Countries", dim: "visit:country", metrics: ["visitors", "percentage"] }],
  },
  {
    id: "devices",
    title: "Devices",
    tabs: [
      { id: "browsers", label: "Browsers", dim: "visit:browser", metrics: ["visitors", "percentage"] },
      { id: "os", label: "Operating systems", dim: "visit:os", metrics: ["visitors", "percentage"] },
      { id: "devices", label: "Devices", dim: "visit:device", metrics: ["visitors", "percentage"] },
    ],
  },
  {
    id: "goals",
    title: "Goals & events",
    tabs: [
      { id: "goals", label: "Goals", dim: "event:goal", metrics: ["visitors", "events", "conversion_rate"] },
      { id: "events", label: "Custom events", dim: "event:name", metrics: ["visitors", "events"], extra: [NOT_CUSTOM] },
      { id: "props", label: "Properties", dim: "event:props:", metrics: ["visitors", "events"], extra: [NOT_CUSTOM] },
    ],
  },
];
const DIM_NAMES = {};
const regionNames = new Intl.DisplayNames(["en"], { type: "region" });

function dimName(dim) {
  if (DIM_NAMES[dim]) return DIM_NAMES[dim];
  if (dim.startsWith("event:props:")) return `Property ${dim.slice(12)}`;
  return dim.replace(/^visit:utm_/, "UTM ").replace(/^\w+:/, "");
}

function valueName(dim, value) {
  if (value == null) return dim === "visit:source" ? "Direct / None" : "(none)";
  if (dim === "visit:country") {
    try {
      return regionNames.of(value) || value;
    } catch {
      return value;
    }
  }
  return String(value);
}

// ---------------------------------------------------------------- log-in

function Login({ onDone }) {
  const [mode, setMode] = useState("key");
  const [secret, setSecret] = useState("");
  const [error, setError] = useState("");
  const submit = async (e) => {
    e.preventDefault();
    setError("");
    try {
      await call("POST", "/api/dashboard/login", mode === "key" ? { key: secret } : { password: secret });
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">Beaconlake</h1>
      <div class="tabs" role="group" aria-label="Log in with">
        <button type="button" aria-pressed=${mode === "key"} onClick=${() => setMode("key")}>API key</button>
        <button type="button" aria-pressed=${mode === "password"} onClick=${() => setMode("password")}>Password</button>
      </div>
      <label for="secret">${mode === "key" ? "Stats API key (printed when the server starts)" : "Dashboard password"}</label>
      <input id="secret" name="secret" type="password" autocomplete=${mode === "key" ? "off" : "current-password"}
        required value=${secret} onInput=${(e) => setSecret(e.target.value)} />
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary">Log in</button>
    </form>
  </main>`;
}

function ShareLogin({ onDone }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const token = location.pathname.split("/").pop();
  const submit = async (e) => {
    e.preventDefault();
    try {
      await call("POST", "/api/dashboard/share-login", { token, password });
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit}>
      <h1>Shared dashboard</h1>
      <label for="share-password">This link is protected by a password</label>
      <input id="share-password" type="password" required value=${password}
        onInput=${(e) => setPassword(e.target.value)} />
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary">Open</button>
    </form>
  </main>`;
}

// ---------------------------------------------------------------- header, filters

function Header({ ctx }) {
  const { state, update, info, site } = ctx;
  const [from, setFrom] = useState(state.from || ctx.days[0]);
  const [to, setTo] = useState(state.to || ctx.days[1]);
  return html`<header class="top">
    <div class="brand">
      <strong>Beaconlake</strong>
      ${info.sites.length > 1
        ? html`<label class="sr" for="site">Site</label>
            <select id="site" value=${site} onChange=${(e) => update({ site: e.target.value, filters: [] })}>
              ${info.sites.map((s) => html`<option value=${s}>${s}</option>`)}
            </select>`
        : html`<span class="site">${site}</span>`}
      ${info.read_only && html`<span class="badge">shared, read-only</span>`}
    </div>
    <div class="controls">
      <div class="periods" role="group" aria-label="Date range">
        ${PERIODS.map(
          ([id, label]) => html`<button type="button" aria-pressed=${state.period === id} data-period=${id}
            onClick=${() => update(id === "custom" ? { period: id, from, to } : { period: id })}>${label}</button>`,
        )}
      </div>
      ${state.period === "custom" &&
      html`<form class="custom" onSubmit=${(e) => {
        e.preventDefault();
        update({ period: "custom", from, to });
      }}>
        <label>From <input type="date" value=${from} max=${info.today} onInput=${(e) => setFrom(e.target.value)} /></label>
        <label>To <input type="date" value=${to} min=${from} max=${info.today} onInput=${(e) => setTo(e.target.value)} /></label>
        <button type="submit">Apply</button>
      </form>`}
      <label class="compare">Compare
        <select value=${state.compare} onChange=${(e) => update({ compare: e.target.value })}>
          <option value="off">off</option>
          <option value="previous_period">previous period</option>
          <option value="year_over_year">year over year</option>
        </select>
      </label>
      ${!info.read_only &&
      html`<${ShareButton} site=${site} />
        <button type="button" class="link" onClick=${ctx.logout}>Log out</button>`}
    </div>
  </header>`;
}

function Chips({ ctx }) {
  const { filters } = ctx.state;
  if (!filters.length) return null;
  const remove = (i) => ctx.update({ filters: filters.filter((_, j) => j !== i) });
  return html`<div class="chips" aria-label="Filters">
    ${filters.map(
      (f, i) => html`<span class="chip" data-dim=${f.dim} data-value=${f.value}>
        ${dimName(f.dim)} ${f.op === "is" ? "is" : "is not"} <strong>${valueName(f.dim, f.value)}</strong>
        <button type="button" aria-label=${`Remove filter ${dimName(f.dim)} ${f.value}`} onClick=${() => remove(i)}>×</button>
      </span>`,
    )}
    <button type="button" class="link" onClick=${() => ctx.update({ filters: [] })}>Clear all</button>
  </div>`;
}

// ---------------------------------------------------------------- overview

function Cards({ ctx }) {
  const body = {
    site_id: ctx.site,
    metrics: CARDS.map(([m]) => m),
    date_range: ctx.range,
    filters: ctx.filters,
    ...(ctx.state.compare !== "off" && { include: { comparisons: { mode: ctx.state.compare } } }),
  };
  const res = useAsync(() => query(body), JSON.stringify(body));
  const row = res.data && res.data.results[0];
  return html`<section class="cards" data-panel="cards" data-state=${panelState(res)} aria-label="Totals">
    ${CARDS.map(([m, label], i) => {
      const value = row ? row.metrics[i] : null;
      const delta = row && row.comparison ? change(m, row.comparison.change[i]) : null;
      return html`<div class="card" data-metric=${m} data-value=${value ?? ""}>
        <span class="label">${label}</span>
        <strong>${row ? metric(m, value) : "…"}</strong>
        ${delta &&
        html`<span class=${`delta ${delta.good ? "good" : delta.bad ? "bad" : ""}`}
          title=${`previous: ${metric(m, row.comparison.metrics[i])}`}>${delta.text}</span>`}
      </div>`;
    })}
    <${Live} ctx=${ctx} />
    ${res.error && html`<p class="error" role="alert">${res.error.message}</p>`}
  </section>`;
}

function Live({ ctx }) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setTick((t) => t + 1), 30_000);
    return () => clearInterval(id);
  }, []);
  const res = useAsync(async () => {
    if (ctx.info.features.realtime) {
      try {
        return (await call("GET", `/api/v2/realtime?site_id=${encodeURIComponent(ctx.site)}`)).visitors;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
    }
    const now = new Date();
    const range = [new Date(now - 5 * 60_000).toISOString(), now.toISOString()];
    const answer = await query({ site_id: ctx.site, metrics: ["visitors"], date_range: range });
    return answer.results[0].metrics[0];
  }, `${ctx.site}|${tick}`);
  return html`<div class="card live" data-panel="live" data-state=${panelState(res)} data-value=${res.data ?? ""}>
    <span class="label"><span class="dot" aria-hidden="true"></span> Current visitors</span>
    <strong>${res.data == null ? "…" : num(res.data)}</strong>
    <span class="delta">last 5 minutes</span>
  </div>`;
}

function Chart({ ctx }) {
  const interval = intervalFor(ctx.state, ctx.days);
  const base = {
    site_id: ctx.site,
    metrics: ["visitors", "pageviews"],
    dimensions: [`time:${interval}`],
    filters: ctx.filters,
    include: { time_labels: true },
  };
  const compare = ctx.state.compare;
  const key = JSON.stringify([base, ctx.range, compare]);
  const res = useAsync(async () => {
    const [current, previous] = await Promise.all([
      query({ ...base, date_range: ctx.range }),
      compare === "off" ? null : query({ ...base, date_range: comparisonDays(ctx.days, compare) }),
    ]);
    return { current, previous };
  }, key);
  let chart = null;
  if (res.data) {
    const { current, previous } = res.data;
    const labels = current.meta.time_labels;
    const series = (answer, i) => {
      const byLabel = new Map(answer.results.map((r) => [r.dimensions[0], r.metrics[i]]));
      return answer.meta.time_labels.map((l) => byLabel.get(l) ?? 0);
    };
    const lines = [
      { key: "visitors", label: "Visitors", values: series(current, 0) },
      { key: "pageviews", label: "Pageviews", values: series(current, 1) },
    ];
    if (previous) {
      const prev = series(previous, 0);
      lines.push({ key: "previous", label: "Visitors before", values: labels.map((_, i) => prev[i] ?? null), dashed: true });
    }
    const total = lines[0].values.reduce((a, b) => a + b, 0);
    chart = html`<${LineChart} x=${labels.map(labelSeconds)} series=${lines} hourly=${interval === "hour"}
      label=${`Visitors and pageviews per ${interval}; ${num(total)} visitors in all`} />`;
  }
  return html`<section class="panel wide" data-panel="chart" data-state=${panelState(res)}>
    <div class="panel-head">
      <h2>Visitors and pageviews</h2>
      <label class="interval">Per
        <select value=${interval} onChange=${(e) => ctx.update({ interval: e.target.value })}>
          <option value="hour">hour</option><option value="day">day</option><option value="week">week</option>
        </select>
      </label>
    </div>
    ${res.error ? html`<p class="error" role="alert">${res.error.message}</p>` : chart || html`<div class="chart placeholder"></div>`}
  </section>`;
}

function panelState(res) {
  return res.loading ? "loading" : res.error ? "error" : "ready";
}

function PropKeys({ ctx, value, onChange }) {
  const span = Array.isArray(ctx.range) ? ctx.range.join(",") : ctx.range;
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

function Panel({ ctx, panel }) {
  const [tabId, setTab] = useState(panel.tabs[0].id);
  const [prop, setProp] = useState("");
  const tab = panel.tabs.find((t) => t.id === tabId);
  const dim = tab.id === "props" ? `${tab.dim}${prop}` : tab.dim;
  const noGoals = tab.id === "goals" && !ctx.goals.length;
  const ready = (tab.id !== "props" || prop) && !noGoals;
  const body = {
    site_id: ctx.site,
    metrics: tab.metrics,
    date_range: ctx.range,
    dimensions: [dim],
    filters: [...ctx.filters, ...(tab.extra || [])],
    pagination: { limit: 10 },
  };
  const key = JSON.stringify(body);
  const res = useAsync(() => (ready ? query(body) : Promise.resolve(null)), key);
  const hideNull = dim.startsWith("visit:utm_") || dim.startsWith("event:props:");
  const rows = ((res.data && res.data.results) || []).filter((r) => !(hideNull && r.dimensions[0] == null));
  const max = Math.max(0, ...rows.map((r) => r.metrics[0]));
  const filterBy = (value) => {
    if (value == null || ctx.state.filters.some((f) => f.dim === dim && f.value === value)) return;
    ctx.update({ filters: [...ctx.state.filters, { dim, op: "is", value: String(value) }] });
  };
  const exportCsv = () =>
    downloadCsv({ ...body, pagination: { limit: 10000 } }, `${ctx.site}-${panel.id}-${tab.id}.csv`).catch((err) =>
      alert(err.message),
    );
  return html`<section class="panel" data-panel=${panel.id} data-tab=${tab.id} data-dim=${dim}
      data-state=${ready ? panelState(res) : "ready"}>
    <div class="panel-head">
      <h2>${panel.title}</h2>
      <button type="button" class="csv" aria-label=${`Export ${panel.title} (${tab.label}) as CSV`} onClick=${exportCsv}>CSV</button>
    </div>
    ${panel.tabs.length > 1 &&
    html`<div class="tabs" role="group" aria-label=${`${panel.title} by`}>
      ${panel.tabs.map(
        (t) => html`<button type="button" aria-pressed=${t.id === tab.id} data-tab=${t.id} onClick=${() => setTab(t.id)}>${t.label}</button>`,
      )}
    </div>`}
    ${tab.id === "props" && html`<${PropKeys} ctx=${ctx} value=${prop} onChange=${setProp} />`}
    ${noGoals
      ? html`<p class="empty">No goals are set up for this site (BEACONLAKE_GOALS or goals.json).</p>`
      : res.error
      ? html`<p class="error" role="alert">${res.error.message}</p>`
      : html`<table class="rows">
          <thead><tr><th scope="col">${tab.label}</th>${tab.metrics.map((m) => html`<th scope="col" class="num">${HEADINGS[m]}</th>`)}</tr></thead>
          <tbody>
            ${rows.map(
              (r) => html`<tr data-value=${r.dimensions[0] ?? ""}>
                <td class="label-cell">
                  <${Bar} value=${r.metrics[0]} max=${max} />
                  ${r.dimensions[0] == null
                    ? html`<span class="row-label">${valueName(dim, null)}</span>`
                    : html`<button type="button" class="row-label" title=${`Filter by ${dimName(dim)}: ${r.dimensions[0]}`}
                        onClick=${() => filterBy(r.dimensions[0])}>${valueName(dim, r.dimensions[0])}</button>`}
                </td>
                ${r.metrics.map((v, i) => html`<td class="num" data-metric=${tab.metrics[i]} data-value=${v ?? ""}>${metric(tab.metrics[i], v)}</td>`)}
              </tr>`,
            )}
          </tbody>
        </table>
        ${!res.loading && !rows.length && html`<p class="empty">Nothing in this range.</p>`}`}
  </section>`;
}

function Overview({ ctx }) {
  return html`<${Cards} ctx=${ctx} />
    <${Chart} ctx=${ctx} />
    <div class="grid">${PANELS.map((p) => html`<${Panel} key=${p.id} ctx=${ctx} panel=${p} />`)}</div>`;
}

// ---------------------------------------------------------------- shared links

function ShareButton({ site }) {
  const [open, setOpen] = useState(false);
  return html`<button type="button" onClick=${() => setOpen(true)}>Share</button>
    ${open && html`<${ShareDialog} site=${site} onClose=${() => setOpen(false)} />`}`;
}

function ShareDialog({ site, onClose }) {
  const [version, setVersion] = useState(0);
  const [label, setLabel] = useState("");
  const [password, setPassword] = useState("");
  const [created, setCreated] = useState(null);
  const [error, setError] = useState("");
  const box = useRef(null);
  useEffect(() => box.current.querySelector("input").focus(), []);
  const res = useAsync(() => call("GET", "/api/dashboard/shares"), version);
  const create = async (e) => {
    e.preventDefault();
    setError("");
    try {
      const share = await call("POST", "/api/dashboard/shares", { site_id: site, label, password: password || null });
      setCreated(`${location.origin}${share.path}`);
      setLabel("");
      setPassword("");
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err.message);
    }
  };
  const revoke = async (id) => {
    await call("DELETE", `/api/dashboard/shares/${id}`);
    setVersion((v) => v + 1);
  };
  const shares = ((res.data && res.data.shares) || []).filter((s) => s.site_id === site);
  return html`<div class="overlay" role="dialog" aria-modal="true" aria-labelledby="share-title"
      onKeyDown=${(e) => e.key === "Escape" && onClose()}>
    <div class="dialog" ref=${box}>
      <h2 id="share-title">Shared links for ${site}</h2>
      <p>Anyone with a link can read this site's dashboard, and change nothing. Revoke a link to end it.</p>
      <form onSubmit=${create} class="share-form">
        <label>Label <input value=${label} maxlength="100" onInput=${(e) => setLabel(e.target.value)} /></label>
        <label>Password (optional, 8+ characters)
          <input type="password" minlength="8" autocomplete="new-password" value=${password}
            onInput=${(e) => setPassword(e.target.value)} /></label>
        <button type="submit" class="primary">Create link</button>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${created &&
      html`<p class="created">New link (shown once): <input readonly value=${created} aria-label="New shared link"
        onFocus=${(e) => e.target.select()} /></p>`}
      <ul class="shares">
        ${shares.map(
          (s) => html`<li>
            <span>${s.label || s.id}${s.has_password ? " · password" : ""} · ${s.created.slice(0, 10)}</span>
            <button type="button" onClick=${() => revoke(s.id)}>Revoke</button>
          </li>`,
        )}
      </ul>
      <button type="button" onClick=${onClose}>Close</button>
    </div>
  </div>`;
}

// ---------------------------------------------------------------- the app

const VIEWS = [
  ["overview", "Overview"],
  ["funnel", "Funnel"],
  ["journeys", "Journeys"],
  ["retention", "Retention"],
];

function Dashboard({ info, logout }) {
  const [state, setState] = useState(() => readState(location.search));
  useEffect(() => {
    const onPop = () => setState(readState(location.search));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const update = (patch) => {
    const next = { ...state, ...patch };
    history.pushState(null, "", location.pathname + writeState(next));
    setState(next);
  };
  const site = info.sites.includes(state.site) ? state.site : info.sites[0];
  if (!site) return html`<main class="login"><p>This log-in may read no tracked site.</p></main>`;
  const days = rangeDays(state, info.today);
  const ctx = {
    state,
    update,
    info,
    site,
    days,
    range: dateRange(state.period === "custom" ? { ...state, from: days[0], to: days[1] } : state),
    filters: apiFilters(state.filters),
    goals: (info.goals && info.goals[site]) || [],
    logout,
  };
  const views = { overview: Overview, funnel: FunnelView, journeys: JourneysView, retention: RetentionView };
  const View = views[state.view] || Overview;
  return html`<${Header} ctx=${ctx} />
    <nav class="views" aria-label="Views">
      ${VIEWS.map(
        ([id, label]) => html`<button type="button" aria-pressed=${(views[state.view] ? state.view : "overview") === id}
          data-view=${id} onClick=${() => update({ view: id })}>${label}</button>`,
      )}
    </nav>
    <${Chips} ctx=${ctx} />
    <main class="view" key=${`${site}`}><${View} ctx=${ctx} /></main>
    <footer>Cookie-less analytics · days are UTC · ${info.today}</footer>`;
}

function App() {
  const share = document.body.dataset.share || "";
  const [session, setSession] = useState({ status: "loading" });
  const load = () =>
    call("GET", "/api/dashboard/sites").then(
      (info) => {
        Object.assign(HEADINGS, info.names?.metrics);
        Object.assign(DIM_NAMES, info.names?.dimensions);
        setSession({ status: "ready", info });
      },
      (err) => setSession({ status: err.status === 401 ? "login" : "error", error: err }),
    );
  useEffect(() => {
    if (share === "invalid") setSession({ status: "invalid" });
    else if (document.body.dataset.locked === "1") setSession({ status: "share-locked" });
    else load();
    return onLoggedOut(() => setSession({ status: share ? "invalid" : "login" }));
  }, []);
  const logout = async () => {
    await call("POST", "/api/dashboard/logout");
    setSession({ status: "login" });
  };
  switch (session.status) {
    case "ready":
      return html`<${Dashboard} info=${session.info} logout=${logout} />`;
    case "login":
      return html`<${Login} onDone=${load} />`;
    case "share-locked":
      return html`<${ShareLogin} onDone=${load} />`;
    case "invalid":
      return html`<main class="login"><${NotAvailable} what="This shared link" reason="it does not exist, has been revoked or has expired" /></main>`;
    case "error":
      return html`<main class="login"><p class="error" role="alert">${session.error.message}</p></main>`;
    default:
      return html`<main class="login"><p>Loading…</p></main>`;
  }
}

render(html`<${App} />`, document.getElementById("app"));
