// Pure helpers: numbers and durations for people, date ranges, and the view's state in the URL.

const UNITS = ["k", "M", "B"];

/** 950 → "950", 1234 → "1.2k", 56789 → "57k", 1500000 → "1.5M". */
export function num(n) {
  if (n == null || !Number.isFinite(n)) return "–";
  const sign = n < 0 ? "-" : "";
  let a = Math.abs(n);
  if (a < 1000) return sign + String(Math.round(a * 100) / 100);
  let unit = -1;
  while (a >= 999.5 && unit < UNITS.length - 1) {
    a /= 1000;
    unit += 1;
  }
  const text = a < 9.95 ? a.toFixed(1).replace(/\.0$/, "") : String(Math.round(a));
  return sign + text + UNITS[unit];
}

/** 45 → "45s", 200 → "3m 20s", 3725 → "1h 2m". */
export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function percent(v) {
  if (v == null || !Number.isFinite(v)) return "–";
  return `${Math.abs(v) < 10 && !Number.isInteger(v) ? v.toFixed(1) : Math.round(v)}%`;
}

// Metrics shown in percent and compared in points: the server's list (names.points, from the
// metric registry) replaces this default once the dashboard has loaded it.
const RATES = ["bounce_rate", "conversion_rate", "percentage"];

export function learnRates(names) {
  if (Array.isArray(names) && names.length) RATES.splice(0, RATES.length, ...names);
}
const DURATIONS = ["visit_duration", "time_on_page"];

const money = new Map();
/** 12.5 in "EUR" → "€12.50"; 1234.5 → "€1,235"; 15459 → "€15K". */
export function currency(v, code) {
  if (v == null || !Number.isFinite(v)) return "–";
  if (!code) return num(v);
  const style = Math.abs(v) >= 10_000 ? "compact" : Math.abs(v) >= 100 ? "whole" : "cents";
  const id = `${code}|${style}`;
  if (!money.has(id)) {
    const options = { style: "currency", currency: code };
    if (style === "compact") Object.assign(options, { notation: "compact", maximumFractionDigits: 1 });
    if (style === "whole") options.maximumFractionDigits = 0;
    try {
      money.set(id, new Intl.NumberFormat("en", options));
    } catch {
      money.set(id, null);
    }
  }
  const f = money.get(id);
  return f ? f.format(v) : `${num(v)} ${code}`;
}

/** Counts: whole numbers only (for axis ticks). */
export const COUNTS = ["visitors", "visits", "pageviews", "events"];

/** A metric for people; a null count under small-count protection (k) is "< k". */
export function metric(name, v, k) {
  if (v == null && k && COUNTS.includes(name)) return `< ${k}`;
  if (name === "scroll_depth") return v == null ? "–" : `${Math.round(v)}%`;
  if (RATES.includes(name)) return percent(v);
  if (DURATIONS.includes(name)) return duration(v);
  if (name === "views_per_visit") return v == null ? "–" : (Math.round(v * 100) / 100).toFixed(2);
  return num(v);
}

/** A metric the server answered as unavailable (privacy mode: meta.unavailable): "n/a", and
 * the server's reason for its tooltip; null when the metric is available. */
export function unavailable(meta, name) {
  const reason = meta && meta.unavailable && meta.unavailable[name];
  return reason ? { text: "n/a", title: `Not available: ${reason}` } : null;
}

/**
 * A change against the comparison: "+12%", "−3 pt"; `good` says whether it is good news.
 * With nothing to compare against (previous value null or 0) it is "—": no change at all.
 */
export function change(name, c, previous) {
  if (previous == null || (previous === 0 && !RATES.includes(name))) return { text: "—", good: false, bad: false, none: true };
  if (c == null || !Number.isFinite(c)) return { text: "—", good: false, bad: false, none: true };
  const unit = RATES.includes(name) ? " pt" : "%";
  const sign = c > 0 ? "+" : c < 0 ? "−" : "±";
  const good = name === "bounce_rate" ? c < 0 : c > 0;
  return { text: `${sign}${num(Math.abs(c))}${unit}`, good, bad: c !== 0 && !good };
}

// --- dates (UTC days as "YYYY-MM-DD") ---

export function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function daysBetween(first, last) {
  return Math.round((Date.parse(`${last}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / 864e5);
}

export const PERIODS = [
  ["day", "Today", "d"],
  ["yesterday", "Yesterday", "e"],
  ["7d", "7 days", "w"],
  ["30d", "30 days", "t"],
  ["month", "This month", "m"],
  ["last_month", "Last month", "l"],
  ["12mo", "12 months", "y"],
  ["all", "All time", "a"],
  ["custom", "Custom", "c"],
];
const ALL_TIME_YEARS = 5;

function monthStart(day, back = 0) {
  const d = new Date(`${day.slice(0, 8)}01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() - back);
  return d.toISOString().slice(0, 10);
}

/** The first and last day the period covers, given the site's today. */
export function rangeDays(state, today) {
  switch (state.period) {
    case "day":
      return [today, today];
    case "yesterday":
      return [addDays(today, -1), addDays(today, -1)];
    case "7d":
      return [addDays(today, -6), today];
    case "month":
      return [monthStart(today), today];
    case "last_month":
      return [monthStart(today, 1), addDays(monthStart(today), -1)];
    case "12mo":
      return [monthStart(today, 11), today];
    case "all":
      return [`${Number(today.slice(0, 4)) - ALL_TIME_YEARS}${today.slice(4)}`, today];
    case "custom":
      return [state.from || today, state.to || today];
    default:
      return [addDays(today, -29), today];
  }
}

/** The date_range of a stats API query: always the site-local days the period covers. */
export function dateRange(state, days) {
  return days ? [days[0], days[1]] : [state.from, state.to];
}

/**
 * The state patch for the previous (dir -1) or next (dir 1) period of the same length, or
 * null when that would start after today. Whole months stay whole months.
 */
export function shiftPeriod(state, [first, last], today, dir) {
  let from;
  let to;
  const wholeMonths = first.endsWith("-01") && addDays(last, 1).endsWith("-01");
  if (wholeMonths || ["month", "last_month", "12mo"].includes(state.period)) {
    const months = (Number(last.slice(0, 4)) - Number(first.slice(0, 4))) * 12 + Number(last.slice(5, 7)) - Number(first.slice(5, 7)) + 1;
    const back = (day, n) => monthStart(day, -n);
    from = back(first, dir * months);
    to = addDays(back(from, months), -1);
  } else {
    const n = daysBetween(first, last) + 1;
    from = addDays(first, dir * n);
    to = addDays(last, dir * n);
  }
  if (from > today) return null;
  if (to > today) to = today;
  return { period: "custom", from, to };
}

/** The range the comparison covers ("previous_period" or "year_over_year"). */
export function comparisonDays([first, last], mode) {
  if (mode === "year_over_year") {
    const back = (d) => `${Number(d.slice(0, 4)) - 1}${d.slice(4)}`.replace(/-02-29$/, "-02-28");
    return [back(first), back(last)];
  }
  const n = daysBetween(first, last) + 1;
  return [addDays(first, -n), addDays(last, -n)];
}

export function intervalFor(state, [first, last]) {
  const n = daysBetween(first, last) + 1;
  if (state.interval === "hour" && n <= 31) return "hour";
  if (["day", "week", "month"].includes(state.interval) && !(state.interval === "day" && n > 400)) return state.interval;
  return n <= 1 ? "hour" : n <= 92 ? "day" : n <= 400 ? "week" : "month";
}

// --- the URL: ?site=&period=&from=&to=&compare=&interval=&view=&metric=&details=&tab=panel:tab
//     &f=dim==value&s=page:/ ---

const FILTER = /^([A-Za-z0-9_:.-]+)(==|!=)([\s\S]*)$/;
const DEFAULTS = { period: "30d", compare: "previous_period", view: "overview" };

export function readState(search) {
  const p = new URLSearchParams(search);
  const filters = p
    .getAll("f")
    .map((f) => FILTER.exec(f))
    .filter(Boolean)
    .map(([, dim, op, value]) => ({ dim, op: op === "==" ? "is" : "is_not", value }));
  const steps = p
    .getAll("s")
    .map((s) => /^(page|event):([\s\S]+)$/.exec(s))
    .filter(Boolean)
    .map(([, kind, value]) => ({ kind, value }));
  return {
    site: p.get("site") || "",
    period: p.get("period") || DEFAULTS.period,
    from: p.get("from") || "",
    to: p.get("to") || "",
    compare: p.get("compare") || DEFAULTS.compare,
    interval: p.get("interval") || "",
    view: p.get("view") || DEFAULTS.view,
    filters,
    steps,
    page: p.get("page") || "",
    direction: p.get("direction") || "next",
    retention: p.get("retention") || "week",
    metric: p.get("metric") || "",
    details: p.get("details") || "",
    prop: p.get("prop") || "",
    tabs: Object.fromEntries(
      p
        .getAll("tab")
        .map((t) => /^([a-z_]+):([a-z_]+)$/.exec(t))
        .filter(Boolean)
        .map(([, panel, tab]) => [panel, tab]),
    ),
  };
}

export function writeState(state) {
  const p = new URLSearchParams();
  for (const key of ["site", "period", "from", "to", "compare", "interval", "view", "page", "metric", "details", "prop"]) {
    if (state[key] && state[key] !== DEFAULTS[key]) p.set(key, state[key]);
  }
  if (state.period !== "custom") {
    p.delete("from");
    p.delete("to");
  }
  if (state.direction !== "next") p.set("direction", state.direction);
  if (state.retention !== "week") p.set("retention", state.retention);
  for (const [panel, tab] of Object.entries(state.tabs || {})) p.append("tab", `${panel}:${tab}`);
  for (const f of state.filters) p.append("f", `${f.dim}${f.op === "is" ? "==" : "!="}${f.value}`);
  for (const s of state.steps) p.append("s", `${s.kind}:${s.value}`);
  const text = p.toString();
  return text ? `?${text}` : "";
}

/** The stats API's filter list for the state's chips. */
export function apiFilters(filters) {
  return filters.map((f) => [f.op, f.dim, [f.value]]);
}

/** "2026-11-25" or "2026-11-25 13:00:00" → epoch seconds (UTC), for the chart's x axis. */
export function labelSeconds(label) {
  return Date.parse(`${label.replace(" ", "T").slice(0, 19)}${label.length > 10 ? "" : "T00:00:00"}Z`) / 1000;
}
