// What the overview's panels show: their tabs, the dimension of each and the metrics asked for
// (conversion figures under a goal filter, revenue for goals with a currency).
import { HEADINGS, heading } from "./labels.mjs";
import { currency, metric } from "./format.mjs";

const NOT_CUSTOM = ["is_not", "event:name", ["pageview", "engagement"]];
const SOURCE_METRICS = ["visitors", "bounce_rate"];
const SHARE_METRICS = ["visitors", "percentage"];

export const PANELS = [
  {
    id: "pages",
    title: "Pages",
    tabs: [
      { id: "top", label: "Top pages", dim: "event:page", metrics: ["visitors", "pageviews", "time_on_page", "scroll_depth"] },
      { id: "entry", label: "Entry pages", dim: "visit:entry_page", metrics: ["visitors", "visits"] },
      { id: "exit", label: "Exit pages", dim: "visit:exit_page", metrics: ["visitors", "visits"] },
    ],
  },
  {
    id: "sources",
    title: "Sources",
    tabs: [
      { id: "channels", label: "Channels", dim: "visit:channel", metrics: SOURCE_METRICS },
      { id: "sources", label: "Sources", dim: "visit:source", metrics: SOURCE_METRICS },
      { id: "utm_source", label: "UTM source", dim: "visit:utm_source", metrics: SOURCE_METRICS },
      { id: "utm_medium", label: "UTM medium", dim: "visit:utm_medium", metrics: SOURCE_METRICS },
      { id: "utm_campaign", label: "UTM campaign", dim: "visit:utm_campaign", metrics: SOURCE_METRICS },
    ],
  },
  {
    id: "countries",
    title: "Countries",
    tabs: [{ id: "countries", label: "Countries", dim: "visit:country", metrics: SHARE_METRICS }],
  },
  {
    id: "devices",
    title: "Devices",
    tabs: [
      { id: "browsers", label: "Browsers", dim: "visit:browser", metrics: SHARE_METRICS },
      { id: "os", label: "Operating systems", dim: "visit:os", metrics: SHARE_METRICS },
      { id: "devices", label: "Devices", dim: "visit:device", metrics: SHARE_METRICS },
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

export function findTab(id) {
  const [panelId, tabId] = String(id || "").split(":");
  const panel = PANELS.find((p) => p.id === panelId);
  const tab = panel && panel.tabs.find((t) => t.id === tabId);
  return panel && tab ? { panel, tab } : null;
}

export function tabOf(ctx, panel) {
  const id = ctx.state.tabs && ctx.state.tabs[panel.id];
  return panel.tabs.find((t) => t.id === id) || panel.tabs[0];
}

/** The cards: the usual six, or Plausible's three conversion figures under a goal filter. */
export function cardsFor(ctx) {
  if (ctx.goalMode) {
    return [
      ["visitors", "Unique conversions"],
      ["events", "Total conversions"],
      ["conversion_rate", "Conversion rate"],
    ];
  }
  return [
    ["visitors", "Unique visitors"],
    ["visits", "Visits"],
    ["pageviews", "Pageviews"],
    ["views_per_visit", "Views per visit"],
    ["bounce_rate", "Bounce rate"],
    ["visit_duration", "Visit duration"],
  ];
}

const withRevenue = (ctx) => ctx.goals.some((g) => g.currency);

// Which of the server's metric lists (names.panels, from the metric registry) a tab's
// dimension falls under: the server says what each kind of panel may ask for.
function panelKind(dim) {
  if (dim === "event:page") return "pages";
  if (dim === "event:goal") return "goals";
  if (dim.startsWith("event:")) return "event_breakdowns";
  return "visit_breakdowns";
}

function wanted(ctx, tab, details) {
  if (tab.id === "goals") {
    const base = ["visitors", "events", "conversion_rate"];
    if (!withRevenue(ctx)) return base;
    return details ? [...base, "total_revenue", "average_revenue"] : [...base, "total_revenue"];
  }
  if (ctx.goalMode) {
    return tab.id === "events" || tab.id === "props" ? ["visitors", "events"] : ["visitors", "group_conversion_rate"];
  }
  return tab.metrics;
}

/** The metrics a tab asks for in this state: those it shows that the server allows there. */
export function tabMetrics(ctx, tab, details = false) {
  const panels = ctx.info && ctx.info.names && ctx.info.names.panels;
  const kind = panels && panels[panelKind(tab.dim)];
  const metrics = wanted(ctx, tab, details);
  if (!kind) return metrics;
  const allowed = ctx.goalMode ? kind.with_goal_filter : kind.metrics;
  return metrics.filter((m) => allowed.includes(m));
}

export function columnHeading(ctx, m) {
  if (m === "total_revenue") return "Revenue";
  if (m === "average_revenue") return "Average";
  if (m === "time_on_page") return "Time";
  if (m === "scroll_depth") return "Scroll";
  return heading(m, ctx.goalMode) || HEADINGS[m];
}

/** A cell's text: revenue in the goal's currency, "< k" for a hidden small count. */
export function cellText(ctx, tab, m, v, row, k) {
  if ((m === "total_revenue" || m === "average_revenue") && tab.id === "goals") {
    const goal = ctx.goals.find((g) => g.name === row.dimensions[0] || g.display_name === row.dimensions[0]);
    return currency(v, goal && goal.currency);
  }
  return metric(m, v, k);
}

export function panelState(res) {
  return res.loading ? "loading" : res.error ? "error" : "ready";
}
