// The header: site, date presets with previous/next arrows, comparison, segments, share and
// log-out; the filter chips; the keyboard shortcuts and their help.
import { html, useEffect, useRef, useState } from "./vendor/htm-preact.mjs";
import { call, useAsync } from "./api.mjs";
import { PERIODS, shiftPeriod } from "./format.mjs";
import { Lazy } from "./lazy.mjs";
import { dimName, valueName } from "./labels.mjs";

const COMPARABLE = ["overview"];

function Arrows({ ctx }) {
  const prev = shiftPeriod(ctx.state, ctx.days, ctx.today, -1);
  const next = shiftPeriod(ctx.state, ctx.days, ctx.today, 1);
  return html`<span class="arrows">
    <button type="button" aria-label="Previous period" title="Previous period (←)" data-shift="-1"
      disabled=${!prev} onClick=${() => prev && ctx.update(prev)}>‹</button>
    <button type="button" aria-label="Next period" title="Next period (→)" data-shift="1"
      disabled=${!next} onClick=${() => next && ctx.update(next)}>›</button>
  </span>`;
}

function Period({ ctx }) {
  const { state, days, today } = ctx;
  const [from, setFrom] = useState(days[0]);
  const [to, setTo] = useState(days[1]);
  useEffect(() => {
    setFrom(days[0]);
    setTo(days[1]);
  }, [days[0], days[1]]);
  const pick = (id) => ctx.update(id === "custom" ? { period: id, from: days[0], to: days[1] } : { period: id });
  return html`<div class="period">
    <${Arrows} ctx=${ctx} />
    <label class="sr" for="period">Date range</label>
    <select id="period" value=${state.period} onChange=${(e) => pick(e.target.value)}>
      ${PERIODS.map(([id, label, key]) => html`<option value=${id} data-key=${key}>${label}</option>`)}
    </select>
    ${state.period === "custom" &&
    html`<form class="custom" onSubmit=${(e) => {
      e.preventDefault();
      ctx.update({ period: "custom", from, to });
    }}>
      <label>From <input type="date" value=${from} max=${today} onInput=${(e) => setFrom(e.target.value)} /></label>
      <label>To <input type="date" value=${to} min=${from} max=${today} onInput=${(e) => setTo(e.target.value)} /></label>
      <button type="submit">Apply</button>
    </form>`}
    <span class="range-text" data-from=${days[0]} data-to=${days[1]}>${days[0] === days[1] ? days[0] : `${days[0]} – ${days[1]}`}</span>
  </div>`;
}

/** Saved segments (GET/PUT /api/v1/sites/segments): apply one, or save the current filters. */
function Segments({ ctx }) {
  const [version, setVersion] = useState(0);
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const menu = useRef(null);
  const path = `/api/v1/sites/segments?site_id=${encodeURIComponent(ctx.site)}`;
  const res = useAsync(() => call("GET", path), `${path}|${version}`);
  if (res.error) return null; // no such route, or this log-in may not read segments
  const segments = (res.data && res.data.segments) || [];
  const apply = (s) => {
    const filters = (s.filters || [])
      .filter((f) => Array.isArray(f) && f.length === 3 && Array.isArray(f[2]) && (f[0] === "is" || f[0] === "is_not"))
      .flatMap(([op, dim, values]) => values.map((value) => ({ dim, op, value: String(value) })));
    ctx.update({ filters });
    menu.current.open = false;
  };
  const save = async (e) => {
    e.preventDefault();
    setError("");
    try {
      await call("PUT", "/api/v1/sites/segments", { site_id: ctx.site, name: name.trim(), filters: ctx.filters });
      setName("");
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<details class="menu segments" ref=${menu}>
    <summary>Segments</summary>
    <div class="menu-body">
      ${segments.length
        ? html`<ul>${segments.map(
            (s) => html`<li><button type="button" class="link" data-segment=${s.name} onClick=${() => apply(s)}>${s.name}</button></li>`,
          )}</ul>`
        : html`<p class="empty">No saved segments.</p>`}
      ${ctx.info.can_manage &&
      (ctx.filters.length
        ? html`<form class="segment-form" onSubmit=${save}>
            <label>Save the current filters as <input required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
            <button type="submit">Save segment</button>
          </form>`
        : html`<p class="empty">Add filters to save them as a segment.</p>`)}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </div>
  </details>`;
}

export function Header({ ctx }) {
  const { state, update, info, site } = ctx;
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
      ${!["settings", "realtime"].includes(ctx.view) && html`<${Period} ctx=${ctx} />`}
      ${COMPARABLE.includes(ctx.view) &&
      html`<label class="compare">Compare
        <select value=${state.compare} onChange=${(e) => update({ compare: e.target.value })}>
          <option value="off">off</option>
          <option value="previous_period">previous period</option>
          <option value="year_over_year">year over year</option>
        </select>
      </label>`}
      ${!info.read_only && html`<${Segments} ctx=${ctx} />`}
      ${!info.read_only &&
      html`<${Lazy} path="./shares.mjs" name="ShareButton" props=${{ site, ctx }} />
        <button type="button" class="link" onClick=${ctx.logout}>Log out</button>`}
      <button type="button" class="link help-button" aria-label="Keyboard shortcuts" onClick=${() => ctx.setHelp(true)}>?</button>
    </div>
  </header>`;
}

export function Chips({ ctx }) {
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

export const SHORTCUTS = [
  ["←", "previous period"],
  ["→", "next period"],
  ...PERIODS.map(([, label, key]) => [key, label]),
  ["r", "realtime view"],
  ["o", "overview"],
  ["?", "this help"],
  ["Esc", "close a dialog or menu"],
];

function typing(e) {
  const t = e.target;
  return t && (t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName));
}

/** Keyboard shortcuts for the whole page (not while typing in a field). */
export function useShortcuts(ctx) {
  const latest = useRef(ctx);
  latest.current = ctx;
  useEffect(() => {
    const onKey = (e) => {
      const c = latest.current;
      if (e.key === "Escape") {
        if (c.help) c.setHelp(false);
        else if (c.state.details) c.update({ details: "" });
        for (const d of document.querySelectorAll("details[open]")) d.open = false;
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
      if (e.key === "?") return c.setHelp(!c.help);
      // a period belongs to the dated views: from realtime or settings it opens the overview
      const dated = (patch) => c.update(["realtime", "settings"].includes(c.view) ? { ...patch, view: "overview" } : patch);
      if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        const patch = shiftPeriod(c.state, c.days, c.today, e.key === "ArrowLeft" ? -1 : 1);
        if (patch) dated(patch);
        return;
      }
      if (e.key === "r") return c.update({ view: "realtime" });
      if (e.key === "o") return c.update({ view: "overview" });
      const period = PERIODS.find(([, , key]) => key === e.key);
      if (period) dated(period[0] === "custom" ? { period: "custom", from: c.days[0], to: c.days[1] } : { period: period[0] });
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
}

export function Help({ ctx }) {
  const box = useRef(null);
  useEffect(() => box.current && box.current.querySelector("button").focus(), []);
  return html`<div class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title"
      onClick=${(e) => e.target === e.currentTarget && ctx.setHelp(false)}>
    <div class="dialog help" ref=${box}>
      <div class="panel-head">
        <h2 id="help-title">Keyboard shortcuts</h2>
        <button type="button" class="link" onClick=${() => ctx.setHelp(false)}>Close</button>
      </div>
      <dl class="shortcuts">
        ${SHORTCUTS.map(([key, what]) => html`<div><dt><kbd>${key}</kbd></dt><dd>${what}</dd></div>`)}
      </dl>
    </div>
  </div>`;
}
