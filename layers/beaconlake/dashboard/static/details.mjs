// The details of one panel's tab: the whole list through the API's pagination, a search box,
// sorting by any column, pages of 50. Opened from a panel's "Details" button; in the URL.
import { html, useEffect, useRef, useState } from "./vendor/htm-preact.mjs";
import { downloadCsv, query, useAsync } from "./api.mjs";
import { dimName } from "./labels.mjs";
import { PropKeys, Rows } from "./overview.mjs";
import { findTab, panelState, tabMetrics } from "./panels.mjs";

const PAGE = 50;

export function DetailsDialog({ ctx }) {
  const found = findTab(ctx.state.details);
  const box = useRef(null);
  const [search, setSearch] = useState("");
  const [typed, setTyped] = useState("");
  const [order, setOrder] = useState(null);
  const [page, setPage] = useState(0);
  useEffect(() => {
    const input = box.current && box.current.querySelector("input[type=search]");
    if (input) input.focus();
  }, []);
  useEffect(() => {
    const id = setTimeout(() => {
      setSearch(typed.trim());
      setPage(0);
    }, 250);
    return () => clearTimeout(id);
  }, [typed]);
  const close = () => ctx.update({ details: "" });
  const { panel, tab } = found || {};
  const prop = ctx.state.prop || "";
  const dim = tab && (tab.id === "props" ? `${tab.dim}${prop}` : tab.dim);
  const metrics = tab ? tabMetrics(ctx, tab, true) : [];
  const ready = Boolean(tab) && (tab.id !== "props" || prop);
  const body = tab && {
    site_id: ctx.site,
    metrics,
    date_range: ctx.range,
    dimensions: [dim],
    filters: [...ctx.filters, ...(tab.extra || []), ...(search ? [["contains", dim, [search]]] : [])],
    order_by: order ? [order] : [[metrics[0], "desc"]],
    pagination: { limit: PAGE + 1, offset: page * PAGE },
  };
  const res = useAsync(() => (ready ? query(body) : Promise.resolve(null)), JSON.stringify(body));
  if (!found) return null;
  const all = (res.data && res.data.results) || [];
  const rows = all.slice(0, PAGE);
  const more = all.length > PAGE;
  const sortBy = (col) => {
    setOrder(order && order[0] === col ? [col, order[1] === "desc" ? "asc" : "desc"] : [col, col === dim ? "asc" : "desc"]);
    setPage(0);
  };
  const current = order || [metrics[0], "desc"];
  const sort = {
    header: (col, label, cls = "") => {
      const dir = current[0] === col ? current[1] : null;
      return html`<th scope="col" class=${cls} data-metric=${col} aria-sort=${dir ? (dir === "asc" ? "ascending" : "descending") : "none"}>
        <button type="button" class="sort" onClick=${() => sortBy(col)}>${label}${dir ? (dir === "asc" ? " ▲" : " ▼") : ""}</button>
      </th>`;
    },
  };
  const exportCsv = () =>
    downloadCsv({ ...body, pagination: { limit: 10000 } }, `${ctx.site}-${panel.id}-${tab.id}.csv`).catch((err) =>
      alert(err.message),
    );
  return html`<div class="overlay" role="dialog" aria-modal="true" aria-labelledby="details-title"
      onClick=${(e) => e.target === e.currentTarget && close()}>
    <div class="dialog details" ref=${box} data-panel="details" data-state=${ready ? panelState(res) : "ready"}
        data-dim=${dim} data-page=${page} data-order=${current.join(":")}>
      <div class="panel-head">
        <h2 id="details-title">${panel.title}: ${tab.label}</h2>
        <button type="button" class="link" onClick=${close} aria-label="Close details">Close</button>
      </div>
      ${tab.id === "props" && html`<${PropKeys} ctx=${ctx} value=${prop} onChange=${(p) => ctx.replace({ prop: p })} />`}
      <div class="details-tools">
        <label class="search">Search <input type="search" value=${typed} placeholder=${`Filter ${dimName(dim || "").toLowerCase()}`}
          onInput=${(e) => setTyped(e.target.value)} /></label>
        <button type="button" class="csv" onClick=${exportCsv}>CSV</button>
      </div>
      ${res.error
        ? html`<p class="error" role="alert">${res.error.message}</p>`
        : html`<div class="scroll"><${Rows} ctx=${ctx} tab=${tab} dim=${dim} metrics=${metrics} rows=${rows}
            k=${(res.data && res.data.meta.small_counts?.k) || ctx.k} sort=${sort} /></div>
          ${!res.loading && !rows.length && html`<p class="empty">${search ? `Nothing matches “${search}”.` : "Nothing in this range."}</p>`}`}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled=${page === 0} onClick=${() => setPage(page - 1)}>‹ Previous</button>
        <span>Page ${page + 1}${rows.length ? ` · rows ${page * PAGE + 1}–${page * PAGE + rows.length}` : ""}</span>
        <button type="button" disabled=${!more} onClick=${() => setPage(page + 1)}>Next ›</button>
      </nav>
    </div>
  </div>`;
}
