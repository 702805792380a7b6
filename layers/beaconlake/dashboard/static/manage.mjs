// The "Settings" view: sites and their time zones, the install snippet and "verify
// installation", hosts that send beacons but are not sites, goals, saved funnels and
// annotations. Everything goes through the management API (/api/v1/sites...).
import { html, useEffect, useState } from "./vendor/htm-preact.mjs";
import { call, useAsync } from "./api.mjs";
import { StepRows, fromApiStep, toApiStep } from "./behaviour.mjs";

// this view's styles, next to app.css
if (!document.querySelector("link[data-manage-css]")) {
  const link = Object.assign(document.createElement("link"), { rel: "stylesheet", href: new URL("./manage.css", import.meta.url).href });
  link.dataset.manageCss = "1";
  document.head.append(link);
}

const CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "BRL", "INR"];
const ZONES = (() => {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
})();
const HERE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const enc = encodeURIComponent;
const when = (iso) => (iso ? new Date(typeof iso === "number" ? iso * 1000 : iso).toLocaleString() : "");
const HOST_NOTE = "beacons for this host arrived but it is not a site here: add it to count them";

/** A tick that advances every `ms` while the component is shown. */
function useTick(ms) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setTick((t) => t + 1), ms);
    return () => clearInterval(id);
  }, [ms]);
  return [tick, () => setTick((t) => t + 1)];
}

/** Runs a change against the API, then `done()`; failures land in `setError`. */
function runner(setError, done) {
  return async (method, path, body) => {
    setError("");
    try {
      const answer = await call(method, path, body);
      done();
      return answer;
    } catch (err) {
      setError(err.message);
      return null;
    }
  };
}

function Problem({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

function ZonePicker({ value, onChange, label = "Time zone" }) {
  return html`<select aria-label=${label} value=${value} onChange=${(e) => onChange(e.target.value)}>
    ${(ZONES.includes(value) ? ZONES : [value, ...ZONES]).map((z) => html`<option value=${z}>${z}</option>`)}
  </select>`;
}

async function allSites() {
  const sites = [];
  let after = "";
  for (let page = 0; page < 50; page++) {
    const answer = await call("GET", `/api/v1/sites?limit=100${after ? `&after=${enc(after)}` : ""}`);
    sites.push(...answer.sites);
    after = answer.meta && answer.meta.after;
    if (!after) break;
  }
  return sites;
}

// ---------------------------------------------------------------- the view

export function ManageView({ ctx }) {
  if (ctx.info.read_only) {
    return html`<p class="not-available" data-panel="settings" data-state="ready">Settings are not part of a shared view.</p>`;
  }
  return html`<${Settings} ctx=${ctx} />`;
}

function Settings({ ctx }) {
  const canManage = Boolean(ctx.info.can_manage);
  const [selected, select] = useState(ctx.site);
  const [version, setVersion] = useState(0);
  useEffect(() => select(ctx.site), [ctx.site]);
  const changed = (site) => {
    if (site !== undefined) select(site);
    setVersion((v) => v + 1);
    if (ctx.reload) ctx.reload();
  };
  const sites = useAsync(allSites, version);
  const list = sites.data || [];
  const site = list.some((s) => s.domain === selected) ? selected : list[0] ? list[0].domain : selected;
  return html`<div class="settings" data-panel="settings" data-state=${sites.loading ? "loading" : "ready"}>
    ${!canManage &&
    html`<p class="note" data-read-only="1">This log-in can read the settings but not change them: its key lacks the
      sites:provision:* scope.</p>`}
    <${Sites} sites=${sites} site=${site} select=${select} canManage=${canManage} changed=${changed} />
    <${UnknownHosts} canManage=${canManage} changed=${changed} />
    ${site &&
    html`<${Install} key=${`i-${site}`} site=${site} />
      <${Goals} key=${`g-${site}`} site=${site} canManage=${canManage} changed=${() => ctx.reload && ctx.reload()} />
      <${Funnels} key=${`f-${site}`} site=${site} canManage=${canManage} ctx=${ctx} />
      <${Annotations} key=${`a-${site}`} site=${site} canManage=${canManage} today=${ctx.today || ctx.info.today} />`}
  </div>`;
}

// ---------------------------------------------------------------- sites

function Sites({ sites, site, select, canManage, changed }) {
  const [domain, setDomain] = useState("");
  const [zone, setZone] = useState(HERE);
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState("");
  const run = runner(setError, () => {});
  const add = async (e) => {
    e.preventDefault();
    const name = domain.trim().toLowerCase();
    if (await run("POST", "/api/v1/sites", { domain: name, timezone: zone })) {
      setDomain("");
      changed(name);
    }
  };
  const setTz = async (name, timezone) => {
    if (await run("PUT", `/api/v1/sites/${enc(name)}`, { timezone })) changed();
  };
  const remove = async (name) => {
    setConfirm("");
    if (await run("DELETE", `/api/v1/sites/${enc(name)}`)) changed("");
  };
  return html`<section class="panel wide" data-panel="sites" data-state=${sites.loading ? "loading" : "ready"}>
    <div class="panel-head"><h2>Sites</h2></div>
    ${sites.error && html`<${Problem} error=${sites.error.message} />`}
    <table class="rows manage-table">
      <thead><tr><th scope="col">Site</th><th scope="col">Time zone</th><th scope="col" class="site-actions"><span class="sr">Actions</span></th></tr></thead>
      <tbody>
        ${(sites.data || []).map(
          (s) => html`<tr data-site=${s.domain} class=${s.domain === site ? "selected" : ""}>
            <td><button type="button" class="row-label" aria-pressed=${s.domain === site} onClick=${() => select(s.domain)}>${s.domain}</button></td>
            <td>${canManage
              ? html`<${ZonePicker} label=${`Time zone of ${s.domain}`} value=${s.timezone || "UTC"} onChange=${(z) => setTz(s.domain, z)} />`
              : s.timezone}</td>
            <td class="site-actions">${canManage &&
            (confirm === s.domain
              ? html`<span class="confirm">Remove ${s.domain}? Its settings go; its stored events stay.
                  <button type="button" class="danger" onClick=${() => remove(s.domain)}>Yes, remove</button>
                  <button type="button" onClick=${() => setConfirm("")}>Cancel</button></span>`
              : html`<button type="button" aria-label=${`Remove ${s.domain}`} onClick=${() => setConfirm(s.domain)}>Remove</button>`)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${sites.data && !sites.data.length && html`<p class="empty">No sites yet: add the first one.</p>`}
    ${canManage &&
    html`<form class="inline-form add-site" onSubmit=${add}>
      <label>New site <input required maxlength="253" placeholder="example.com" value=${domain}
        onInput=${(e) => setDomain(e.target.value)} /></label>
      <label>Time zone <${ZonePicker} label="Time zone of the new site" value=${zone} onChange=${setZone} /></label>
      <button type="submit" class="primary">Add site</button>
    </form>`}
    <${Problem} error=${error} />
  </section>`;
}

// ---------------------------------------------------------------- install and verify

function Install({ site }) {
  const snippet = `<script defer data-domain="${site}" src="${location.origin}/tracker.js"></script>`;
  const [copied, setCopied] = useState(false);
  const [tick, now] = useTick(5000);
  const res = useAsync(() => call("GET", `/api/v1/sites/${enc(site)}/installation`), `${site}|${tick}`);
  const copy = async () => {
    setCopied(await copyText(snippet));
    setTimeout(() => setCopied(false), 2000);
  };
  const data = res.data;
  return html`<section class="panel wide" data-panel="install" data-state="ready">
    <div class="panel-head"><h2>Add it to ${site}</h2></div>
    <p>Paste this into the <code>${"<head>"}</code> of every page:</p>
    <div class="snippet"><code class="install-snippet">${snippet}</code>
      <button type="button" onClick=${copy}>${copied ? "Copied" : "Copy"}</button></div>
    <div class="verify" data-status=${data ? data.status : res.error ? "error" : "loading"} aria-live="polite">
      <h3>Verify installation <button type="button" class="link" onClick=${now}>check now</button></h3>
      ${res.error && !data && html`<${Problem} error=${res.error.message} />`}
      ${data && data.status === "receiving" &&
      html`<p class="good status-line"><span class="dot ok" aria-hidden="true"></span><span>Receiving events · last one at
        <time datetime=${data.last_event_at}>${when(data.last_event_at)}</time></span></p>`}
      ${data && data.status !== "receiving" &&
      html`<p class="status-line"><span class="dot wait" aria-hidden="true"></span><span>Waiting for the first event…
        (checked every 5 seconds; open a page with the snippet)</span></p>`}
      ${data && data.drops && data.drops.length > 0 &&
      html`<ul class="drops">${data.drops.map(
        (d) => html`<li data-reason=${d.reason}><strong>${d.reason}</strong> at ${when(d.at)}: ${d.explanation}</li>`,
      )}</ul>`}
    </div>
  </section>`;
}

function UnknownHosts({ canManage, changed }) {
  const [tick] = useTick(5000);
  const [error, setError] = useState("");
  const [version, setVersion] = useState(0);
  const res = useAsync(() => call("GET", "/api/v1/sites/unknown-hosts"), `${tick}|${version}`);
  const [hosts, setHosts] = useState([]);
  useEffect(() => {
    if (res.data) setHosts(res.data.hosts || []);
  }, [res.data]);
  const run = runner(setError, () => setVersion((v) => v + 1));
  const add = async (host) => {
    if (await run("POST", "/api/v1/sites", { domain: host, timezone: HERE })) changed(host);
  };
  if (!hosts.length && !error) return null;
  return html`<section class="panel wide" data-panel="unknown-hosts" data-state="ready">
    <div class="panel-head"><h2>Hosts sending beacons that are not a site</h2></div>
    <ul class="hosts">
      ${hosts.map(
        (h) => html`<li data-host=${h.host}>
          <span><strong>${h.host}</strong> · <span data-reason="unknown_site">unknown_site</span>: ${HOST_NOTE} · last at ${when(h.at)}</span>
          ${canManage && html`<button type="button" onClick=${() => add(h.host)}>Add as site</button>`}
        </li>`,
      )}
    </ul>
    <${Problem} error=${error} />
  </section>`;
}

/** Puts `text` on the clipboard (or falls back to a hidden text field); true when it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

// ---------------------------------------------------------------- goals

function Goals({ site, canManage, changed }) {
  const [version, setVersion] = useState(0);
  const [error, setError] = useState("");
  const [kind, setKind] = useState("page");
  const [target, setTarget] = useState("");
  const [name, setName] = useState("");
  const [currency, setCurrency] = useState("EUR");
  const res = useAsync(() => call("GET", `/api/v1/sites/goals?site_id=${enc(site)}`), version);
  const run = runner(setError, () => {
    setVersion((v) => v + 1);
    changed();
  });
  const add = async (e) => {
    e.preventDefault();
    const body = { site_id: site, goal_type: kind === "page" ? "page" : "event" };
    body[kind === "page" ? "page_path" : "event_name"] = target.trim();
    if (name.trim()) body.display_name = name.trim();
    if (kind === "revenue") body.currency = currency;
    if (await run("PUT", "/api/v1/sites/goals", body)) {
      setTarget("");
      setName("");
    }
  };
  const goals = (res.data && res.data.goals) || [];
  return html`<section class="panel wide" data-panel="manage-goals" data-state=${res.loading ? "loading" : "ready"}>
    <div class="panel-head"><h2>Goals</h2></div>
    ${res.error && html`<${Problem} error=${res.error.message} />`}
    <ul class="manage-list goals-list">
      ${goals.map(
        (g) => html`<li data-goal=${g.display_name} data-id=${g.id}>
          <span><strong>${g.display_name}</strong> · ${g.goal_type === "page" ? `page ${g.page_path}` : `event ${g.event_name}`}
            ${g.currency ? ` · revenue in ${g.currency}` : ""}</span>
          ${canManage &&
          html`<button type="button" aria-label=${`Delete goal ${g.display_name}`}
            onClick=${() => run("DELETE", `/api/v1/sites/goals/${enc(g.id)}`, { site_id: site })}>Delete</button>`}
        </li>`,
      )}
    </ul>
    ${res.data && !goals.length && html`<p class="empty">No goals yet.</p>`}
    ${canManage &&
    html`<form class="inline-form add-goal" onSubmit=${add}>
      <label>Goal <select aria-label="Goal type" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="page">Page visit</option><option value="event">Custom event</option><option value="revenue">Revenue</option>
      </select></label>
      <label>${kind === "page" ? "Page path (* matches anything)" : "Event name"}
        <input required maxlength="120" aria-label=${kind === "page" ? "Page path" : "Event name"} value=${target}
          placeholder=${kind === "page" ? "/blog/*" : kind === "revenue" ? "Purchase" : "Signup"}
          onInput=${(e) => setTarget(e.target.value)} /></label>
      ${kind === "revenue" &&
      html`<label>Currency <select aria-label="Currency" value=${currency} onChange=${(e) => setCurrency(e.target.value)}>
        ${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}
      </select></label>`}
      <label>Name (optional) <input maxlength="120" aria-label="Goal name" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
      <button type="submit" class="primary">Add goal</button>
    </form>`}
    <${Problem} error=${error} />
  </section>`;
}

// ---------------------------------------------------------------- saved funnels

function Funnels({ site, canManage, ctx }) {
  const blank = [
    { kind: "page", value: "/" },
    { kind: "event", value: "" },
  ];
  const [version, setVersion] = useState(0);
  const [error, setError] = useState("");
  const [name, setName] = useState("");
  const [steps, setSteps] = useState(blank);
  const res = useAsync(() => call("GET", `/api/v1/sites/funnels?site_id=${enc(site)}`), version);
  const run = runner(setError, () => setVersion((v) => v + 1));
  const add = async (e) => {
    e.preventDefault();
    const kept = steps.filter((s) => s.value.trim()).map((s) => toApiStep({ ...s, value: s.value.trim() }));
    if (await run("PUT", "/api/v1/sites/funnels", { site_id: site, name: name.trim(), steps: kept })) {
      setName("");
      setSteps(blank);
    }
  };
  const open = (f) => ctx.update({ site, view: "funnel", steps: f.steps.map(fromApiStep) });
  const funnels = (res.data && res.data.funnels) || [];
  return html`<section class="panel wide" data-panel="manage-funnels" data-state=${res.loading ? "loading" : "ready"}>
    <div class="panel-head"><h2>Saved funnels</h2></div>
    ${res.error && html`<${Problem} error=${res.error.message} />`}
    <ul class="manage-list funnels-list">
      ${funnels.map(
        (f) => html`<li data-funnel=${f.name} data-id=${f.id}>
          <span><strong>${f.name}</strong> · ${f.steps.map((s) => (s.event != null ? `event ${s.event}` : s.page)).join(" → ")}</span>
          <span class="actions">
            <button type="button" onClick=${() => open(f)}>Show</button>
            ${canManage &&
            html`<button type="button" aria-label=${`Delete funnel ${f.name}`}
              onClick=${() => run("DELETE", `/api/v1/sites/funnels/${enc(f.id)}`, { site_id: site })}>Delete</button>`}
          </span>
        </li>`,
      )}
    </ul>
    ${res.data && !funnels.length && html`<p class="empty">No saved funnels yet.</p>`}
    ${canManage &&
    html`<form class="steps add-funnel" onSubmit=${add} aria-label="New funnel">
      <label class="inline-form">Name <input required maxlength="100" aria-label="Funnel name" value=${name}
        onInput=${(e) => setName(e.target.value)} /></label>
      <${StepRows} steps=${steps} onChange=${setSteps} prefix="Funnel step" />
      <div class="step-actions">
        <button type="button" disabled=${steps.length >= 8} onClick=${() => setSteps([...steps, { kind: "page", value: "" }])}>Add step</button>
        <button type="submit" class="primary">Save funnel</button>
      </div>
    </form>`}
    <${Problem} error=${error} />
  </section>`;
}

// ---------------------------------------------------------------- annotations

function Annotations({ site, canManage, today }) {
  const [version, setVersion] = useState(0);
  const [error, setError] = useState("");
  const [day, setDay] = useState(today || "");
  const [text, setText] = useState("");
  const res = useAsync(() => call("GET", `/api/v1/sites/annotations?site_id=${enc(site)}`), version);
  const run = runner(setError, () => setVersion((v) => v + 1));
  const add = async (e) => {
    e.preventDefault();
    if (await run("PUT", "/api/v1/sites/annotations", { site_id: site, date: day, text: text.trim() })) setText("");
  };
  const notes = ((res.data && res.data.annotations) || []).slice().sort((a, b) => (a.date < b.date ? 1 : -1));
  return html`<section class="panel wide" data-panel="manage-annotations" data-state=${res.loading ? "loading" : "ready"}>
    <div class="panel-head"><h2>Annotations</h2></div>
    ${res.error && html`<${Problem} error=${res.error.message} />`}
    <ul class="manage-list annotations-list">
      ${notes.map(
        (a) => html`<li data-id=${a.id}>
          <span><time datetime=${a.date}>${a.date}</time> · ${a.text}</span>
          ${canManage &&
          html`<button type="button" aria-label=${`Delete annotation of ${a.date}`}
            onClick=${() => run("DELETE", `/api/v1/sites/annotations/${enc(a.id)}`, { site_id: site })}>Delete</button>`}
        </li>`,
      )}
    </ul>
    ${res.data && !notes.length && html`<p class="empty">No annotations yet: a note on a date shows on the chart.</p>`}
    ${canManage &&
    html`<form class="inline-form add-annotation" onSubmit=${add}>
      <label>Date <input type="date" required value=${day} max=${today} onInput=${(e) => setDay(e.target.value)} /></label>
      <label>Note <input required maxlength="200" aria-label="Annotation" value=${text} onInput=${(e) => setText(e.target.value)} /></label>
      <button type="submit" class="primary">Add annotation</button>
    </form>`}
    <${Problem} error=${error} />
  </section>`;
}
