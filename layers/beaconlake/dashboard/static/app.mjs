// The dashboard: Preact + HTM, no build step. State lives in the URL (see format.mjs).
// Views: overview.mjs (cards, chart, panels), details.mjs, realtime.mjs, behaviour.mjs
// (funnel, journeys, retention), manage.mjs (settings, loaded lazily); header.mjs.
import { html, render, useEffect, useState } from "./vendor/htm-preact.mjs";
import { call, onLoggedOut } from "./api.mjs";
import { FunnelView, JourneysView, RetentionView, NotAvailable } from "./behaviour.mjs";
import { DetailsDialog } from "./details.mjs";
import { apiFilters, dateRange, rangeDays, readState, writeState } from "./format.mjs";
import { Chips, Header, Help, useShortcuts } from "./header.mjs";
import { learnNames } from "./labels.mjs";
import { Lazy } from "./lazy.mjs";
import { Overview } from "./overview.mjs";
import { cardsFor } from "./panels.mjs";
import { RealtimeView } from "./realtime.mjs";

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

// ---------------------------------------------------------------- the app

function SettingsView({ ctx }) {
  return html`<${Lazy} path="./manage.mjs" name="ManageView" props=${{ ctx }}
    fallback=${html`<${NotAvailable} what="Settings" reason="this page could not be loaded" />`} />`;
}

const VIEWS = [
  ["overview", "Overview", Overview],
  ["realtime", "Realtime", RealtimeView],
  ["funnel", "Funnel", FunnelView],
  ["journeys", "Journeys", JourneysView],
  ["retention", "Retention", RetentionView],
  ["settings", "Settings", SettingsView],
];

/** Everything a view needs: the URL state and how to change it, the site and its days. */
function makeContext({ info, state, update, replace, logout, reload, help, setHelp }) {
  const site = info.sites.includes(state.site) ? state.site : info.sites[0];
  const today = (info.site_info && info.site_info[site] && info.site_info[site].today) || info.today;
  const days = rangeDays(state, today);
  const views = VIEWS.filter(([id]) => id !== "settings" || !info.read_only);
  const view = views.some(([id]) => id === state.view) ? state.view : "overview";
  // any goal filter keeps conversions, not visits: conversion figures only (as Plausible)
  const goalMode = state.filters.some((f) => f.dim === "event:goal");
  const ctx = {
    state,
    update,
    setState: update,
    replace,
    info,
    site,
    today,
    timezone: (info.site_info && info.site_info[site] && info.site_info[site].timezone) || "UTC",
    days,
    range: dateRange(state, days),
    filters: apiFilters(state.filters),
    goals: (info.goals && info.goals[site]) || [],
    k: info.min_count || null,
    goalMode,
    view,
    views,
    compare: view === "overview" ? state.compare : "off",
    logout,
    reload,
    help,
    setHelp,
  };
  const cards = cardsFor(ctx).map(([m]) => m);
  ctx.chartMetric = cards.includes(state.metric) ? state.metric : cards[0];
  return ctx;
}

function Dashboard({ info, logout, reload }) {
  const [state, setState] = useState(() => readState(location.search));
  const [help, setHelp] = useState(false);
  useEffect(() => {
    const onPop = () => setState(readState(location.search));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const change = (method) => (patch) =>
    setState((current) => {
      const next = { ...current, ...patch };
      history[method](null, "", location.pathname + writeState(next));
      return next;
    });
  const ctx = makeContext({ info, state, update: change("pushState"), replace: change("replaceState"), logout, reload, help, setHelp });
  useShortcuts(ctx);
  if (!info.sites.length) return html`<main class="login"><p>This log-in may read no tracked site.</p></main>`;
  const View = VIEWS.find(([id]) => id === ctx.view)[2];
  return html`<${Header} ctx=${ctx} />
    <nav class="views" aria-label="Views">
      ${ctx.views.map(
        ([id, label]) => html`<button type="button" aria-pressed=${ctx.view === id} data-view=${id}
          onClick=${() => ctx.update({ view: id, details: "" })}>${label}</button>`,
      )}
    </nav>
    ${ctx.view !== "settings" && html`<${Chips} ctx=${ctx} />`}
    <main class="view" key=${ctx.site}><${View} ctx=${ctx} /></main>
    ${ctx.view === "overview" && ctx.state.details && html`<${DetailsDialog} key=${ctx.state.details} ctx=${ctx} />`}
    ${help && html`<${Help} ctx=${ctx} />`}
    <footer>Cookie-less analytics · days in ${ctx.timezone} · today ${ctx.today} · press ? for shortcuts</footer>`;
}

function App() {
  const share = document.body.dataset.share || "";
  const [session, setSession] = useState({ status: "loading" });
  const load = () =>
    call("GET", `/api/dashboard/sites${document.body.dataset.embed === "1" ? "?embed=1" : ""}`).then(
      (info) => {
        learnNames(info.names);
        // framed on the owner's page (a shared link with ?embed=1): no footer or help chrome
        document.body.classList.toggle("embedded", Boolean(info.embedded));
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
      return html`<${Dashboard} info=${session.info} logout=${logout} reload=${load} />`;
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
