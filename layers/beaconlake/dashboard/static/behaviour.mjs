// Funnel, journey and retention views. Each shows "not available" when its endpoint is absent.
import { html, useEffect, useState } from "./vendor/htm-preact.mjs";
import { ApiError, call, useAsync } from "./api.mjs";
import { Bar } from "./charts.mjs";
import { num, percent } from "./format.mjs";

export function NotAvailable({ what, reason }) {
  return html`<p class="not-available" data-panel="not-available" data-state="ready">
    ${what} ${reason ? `is not available: ${reason}.` : "is not available on this server."}
  </p>`;
}

const missing = (res) => res.error instanceof ApiError && res.error.status === 404;

/** A count for people; a count hidden by a shared link's small-count protection is "< k". */
function count(v, k) {
  return v == null && k ? `< ${k}` : num(v);
}

const smallK = (ctx, res) => (res.data && res.data.meta && res.data.meta.small_counts && res.data.meta.small_counts.k) || ctx.k;

function state(res) {
  return res.loading ? "loading" : res.error ? "error" : "ready";
}

function Failure({ res, what }) {
  if (missing(res)) return html`<${NotAvailable} what=${what} />`;
  return html`<p class="error" role="alert">${res.error.message}</p>`;
}

// ---------------------------------------------------------------- funnel

/**
 * The funnel shown when none is chosen: the site's page goals in their configured order, then
 * its event goals (custom and revenue) in theirs; it starts at "/" when no page goal leads in.
 */
export function defaultSteps(goals) {
  const pages = goals.filter((g) => !g.event && g.page).map((g) => ({ kind: "page", value: g.page }));
  const events = goals.filter((g) => g.event).map((g) => ({ kind: "event", value: g.event }));
  const steps = [...pages, ...events];
  if (!pages.length || steps.length < 2) steps.unshift({ kind: "page", value: "/" });
  return steps.slice(0, 8);
}

/** A v2 funnel step ({page} or {event}) as an editor step ({kind, value}), and back. */
export const fromApiStep = (s) => (s.event != null ? { kind: "event", value: s.event } : { kind: "page", value: s.page });
export const toApiStep = (s) => (s.kind === "page" ? { page: s.value } : { event: s.value });
const sameSteps = (a, b) => JSON.stringify(a.map(toApiStep)) === JSON.stringify(b.map(toApiStep));

/** The step editor rows (kind, value, remove), shared by the funnel view and the settings. */
export function StepRows({ steps, onChange, prefix = "Step" }) {
  const edit = (i, patch) => onChange(steps.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  return steps.map(
    (s, i) => html`<div class="step-edit">
      <span class="step-no">${i + 1}</span>
      <select aria-label=${`${prefix} ${i + 1} kind`} value=${s.kind} onChange=${(e) => edit(i, { kind: e.target.value })}>
        <option value="page">Page</option><option value="event">Event</option>
      </select>
      <input aria-label=${`${prefix} ${i + 1}`} value=${s.value} placeholder=${s.kind === "page" ? "/blog/*" : "Signup"}
        onInput=${(e) => edit(i, { value: e.target.value })} />
      <button type="button" aria-label=${`Remove ${prefix.toLowerCase()} ${i + 1}`} disabled=${steps.length <= 2}
        onClick=${() => onChange(steps.filter((_, j) => j !== i))}>×</button>
    </div>`,
  );
}

/** The site's saved funnels (null while unknown or when this login may not read them). */
function useSavedFunnels(ctx, version) {
  const path = `/api/v1/sites/funnels?site_id=${encodeURIComponent(ctx.site)}`;
  const res = useAsync(() => call("GET", path).catch(() => null), `${path}|${version}`);
  return (res.data && res.data.funnels) || null;
}

function SavedFunnels({ ctx, steps, draft }) {
  const [version, setVersion] = useState(0);
  const [name, setName] = useState("");
  const [message, setMessage] = useState("");
  const saved = useSavedFunnels(ctx, version);
  if (!saved) return null;
  const current = saved.find((f) => sameSteps(f.steps.map(fromApiStep), steps));
  const pick = (id) => {
    const f = saved.find((x) => String(x.id) === id);
    if (f) ctx.update({ steps: f.steps.map(fromApiStep) });
  };
  const save = async (e) => {
    e.preventDefault();
    setMessage("");
    const kept = draft.filter((s) => s.value.trim());
    try {
      await call("PUT", "/api/v1/sites/funnels", { site_id: ctx.site, name: name.trim(), steps: kept.map(toApiStep) });
      setName("");
      setVersion((v) => v + 1);
      ctx.update({ steps: kept });
      setMessage("Saved.");
    } catch (err) {
      setMessage(err.message);
    }
  };
  return html`<div class="saved-funnels step-actions">
    <label>Saved funnel
      <select class="funnel-picker" value=${current ? String(current.id) : ""} onChange=${(e) => pick(e.target.value)}>
        <option value="">${saved.length ? "(these steps)" : "(none saved)"}</option>
        ${saved.map((f) => html`<option value=${String(f.id)}>${f.name}</option>`)}
      </select>
    </label>
    ${ctx.info.can_manage &&
    html`<form class="save-funnel step-actions" onSubmit=${save}>
      <label>Save steps as <input required maxlength="100" value=${name} placeholder="Signup funnel"
        onInput=${(e) => setName(e.target.value)} /></label>
      <button type="submit">Save funnel</button>
      ${message && html`<span role="status">${message}</span>`}
    </form>`}
  </div>`;
}

export function FunnelView({ ctx }) {
  if (!ctx.info.features.funnel) return html`<${NotAvailable} what="The funnel view" />`;
  return html`<${Funnel} ctx=${ctx} />`;
}

function Funnel({ ctx }) {
  const steps = ctx.state.steps.length ? ctx.state.steps : defaultSteps(ctx.goals);
  const padded = () => (steps.length >= 2 ? steps : [...steps, { kind: "event", value: "" }]);
  const [draft, setDraft] = useState(padded);
  const [order, setOrder] = useState("ordered");
  const [windowMinutes, setWindow] = useState("");
  useEffect(() => setDraft(padded()), [JSON.stringify(steps)]);
  const body = {
    site_id: ctx.site,
    date_range: ctx.range,
    filters: ctx.filters,
    steps: steps.map(toApiStep),
    order,
    ...(windowMinutes && { window_minutes: Number(windowMinutes) }),
  };
  const enough = steps.length >= 2;
  const res = useAsync(() => (enough ? call("POST", "/api/v2/funnel", body) : Promise.resolve(null)), JSON.stringify(body));
  const apply = (e) => {
    e.preventDefault();
    ctx.update({ steps: draft.filter((s) => s.value.trim()) });
  };
  const first = res.data && res.data.steps.length ? res.data.steps[0].visitors : 0;
  return html`<section class="panel wide" data-panel="funnel" data-state=${state(res)}>
    <div class="panel-head"><h2>Funnel</h2></div>
    <${SavedFunnels} ctx=${ctx} steps=${steps} draft=${draft} />
    <form class="steps" onSubmit=${apply} aria-label="Funnel steps">
      <${StepRows} steps=${draft} onChange=${setDraft} />
      <div class="step-actions">
        <button type="button" disabled=${draft.length >= 8} onClick=${() => setDraft([...draft, { kind: "page", value: "" }])}>Add step</button>
        <label>Order <select value=${order} onChange=${(e) => setOrder(e.target.value)}>
          <option value="ordered">in order</option><option value="strict">strictly in a row</option>
        </select></label>
        <label>Within <input type="number" min="1" max="10080" placeholder="any" value=${windowMinutes}
          onInput=${(e) => setWindow(e.target.value)} /> min</label>
        <button type="submit" class="primary">Show funnel</button>
      </div>
    </form>
    ${!enough && html`<p class="empty">A funnel needs two steps or more: add one above, or set up goals in Settings.</p>`}
    ${res.error
      ? html`<${Failure} res=${res} what="The funnel view" />`
      : res.data &&
        html`<p class="summary">
            ${"Of "}<strong data-value=${res.data.visitors}>${count(res.data.visitors, smallK(ctx, res))}</strong>${" visitors who started, "}
            <strong data-value=${res.data.conversion_rate}>${percent(res.data.conversion_rate)}</strong>${" completed the funnel."}
          </p>
          <ol class="funnel">
            ${res.data.steps.map(
              (s, i) => html`<li class="funnel-step" data-visitors=${s.visitors}>
                <div class="funnel-label"><span class="step-no">${i + 1}</span> ${s.label}</div>
                <div class="funnel-bar"><${Bar} value=${s.visitors} max=${first} />
                  <span class="funnel-figure"><strong>${count(s.visitors, smallK(ctx, res))}</strong> visitors · ${percent(s.conversion_rate)}</span>
                </div>
                ${i > 0 &&
                html`<div class="funnel-drop">${percent(s.step_conversion)} from step ${i}${" · "}<span class="bad">${count(s.dropoff, smallK(ctx, res))} dropped off</span></div>`}
              </li>`,
            )}
          </ol>`}
  </section>`;
}

// ---------------------------------------------------------------- journeys

export function JourneysView({ ctx }) {
  if (!ctx.info.features.journeys) return html`<${NotAvailable} what="The journey view" />`;
  return html`<${Journeys} ctx=${ctx} />`;
}

function Journeys({ ctx }) {
  const page = ctx.state.page || "/";
  const direction = ctx.state.direction;
  const [draft, setDraft] = useState(page);
  useEffect(() => setDraft(page), [page]);
  const body = { site_id: ctx.site, date_range: ctx.range, filters: ctx.filters, page, direction, limit: 10 };
  const res = useAsync(() => call("POST", "/api/v2/journeys", body), JSON.stringify(body));
  const rows = (res.data && res.data.results) || [];
  const max = Math.max(0, ...rows.map((r) => r.visits));
  return html`<section class="panel wide" data-panel="journeys" data-state=${state(res)}>
    <div class="panel-head"><h2>Journeys</h2></div>
    <form class="journey-form" onSubmit=${(e) => {
      e.preventDefault();
      ctx.update({ page: draft.trim() || "/" });
    }}>
      <label>Page <input value=${draft} onInput=${(e) => setDraft(e.target.value)} /></label>
      <div class="tabs" role="group" aria-label="Direction">
        <button type="button" aria-pressed=${direction === "previous"} onClick=${() => ctx.update({ direction: "previous" })}>Came from</button>
        <button type="button" aria-pressed=${direction === "next"} onClick=${() => ctx.update({ direction: "next" })}>Went next</button>
      </div>
      <button type="submit" class="primary">Show</button>
    </form>
    ${res.error
      ? html`<${Failure} res=${res} what="The journey view" />`
      : html`<div class=${`journey ${direction}`}>
          <div class="journey-page" aria-label="Selected page">${page}</div>
          <div class="journey-arrow" aria-hidden="true">${direction === "next" ? "→" : "←"}</div>
          <ol class="journey-list">
            ${rows.map(
              (r) => html`<li data-page=${r.page} data-visits=${r.visits}>
                <${Bar} value=${r.visits} max=${max} />
                ${r.page.startsWith("(")
                  ? html`<span class="row-label">${r.page}</span>`
                  : html`<button type="button" class="row-label" title=${`Journeys through ${r.page}`}
                      onClick=${() => ctx.update({ page: r.page })}>${r.page}</button>`}
                <span class="num">${count(r.visits, smallK(ctx, res))} · ${percent(r.percentage)}</span>
              </li>`,
            )}
          </ol>
          ${!res.loading && !rows.length && html`<p class="empty">No journeys through ${page} in this range.</p>`}
        </div>`}
  </section>`;
}

// ---------------------------------------------------------------- retention

export function RetentionView({ ctx }) {
  if (!ctx.info.features.retention) return html`<${NotAvailable} what="The retention view" />`;
  return html`<${Retention} ctx=${ctx} />`;
}

function Retention({ ctx }) {
  const period = ctx.state.retention;
  const body = { site_id: ctx.site, date_range: ctx.range, period };
  const res = useAsync(() => call("POST", "/api/v2/retention", body), JSON.stringify(body));
  const data = res.data;
  const width = data && data.cohorts.length ? Math.max(...data.cohorts.map((c) => c.percentages.length)) : 0;
  return html`<section class="panel wide" data-panel="retention" data-state=${state(res)}>
    <div class="panel-head">
      <h2>Retention</h2>
      <label>Cohorts by <select value=${period} onChange=${(e) => ctx.update({ retention: e.target.value })}>
        <option value="day">day</option><option value="week">week</option>
      </select></label>
    </div>
    ${res.error
      ? html`<${Failure} res=${res} what="The retention view" />`
      : data && !data.available
        ? html`<${NotAvailable} what="Retention" reason=${data.reason || "not for this range"} />`
        : data &&
          html`<div class="scroll"><table class="retention">
            <thead><tr><th scope="col">Cohort</th><th scope="col" class="num">Users</th>
              ${Array.from({ length: width }, (_, i) => html`<th scope="col" class="num">${period === "day" ? "Day" : "Week"} ${i}</th>`)}
            </tr></thead>
            <tbody>${data.cohorts.map(
              (c) => html`<tr>
                <th scope="row">${c.cohort}</th><td class="num">${count(c.users, smallK(ctx, res))}</td>
                ${c.percentages.map(
                  (p, i) => html`<td class="num heat" style=${{ "--heat": Math.min(1, p / 100) }}
                    title=${`${count(c.retained[i], smallK(ctx, res))} of ${count(c.users, smallK(ctx, res))}`}>${percent(p)}</td>`,
                )}
              </tr>`,
            )}</tbody>
          </table></div>`}
  </section>`;
}
