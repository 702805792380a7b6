// Names people read: column headings and dimension names (the server's registry, filled in at
// log-in from /api/dashboard/sites `names`), and the values of a dimension.

import { learnRates } from "./format.mjs";

export const HEADINGS = {};
export const DIM_NAMES = {};
export const DIRECT = "Direct / None";

const regionNames = new Intl.DisplayNames(["en"], { type: "region" });

/** Headings in the goal-filtered state (Plausible's conversion figures). */
const GOAL_HEADINGS = { visitors: "Conversions", events: "Total", conversion_rate: "CR", group_conversion_rate: "CR" };

export function heading(m, goalMode) {
  return (goalMode && GOAL_HEADINGS[m]) || HEADINGS[m] || m.replace(/_/g, " ");
}

export function learnNames(names) {
  Object.assign(HEADINGS, names?.metrics);
  Object.assign(DIM_NAMES, names?.dimensions);
  learnRates(names?.points);
}

export function dimName(dim) {
  if (DIM_NAMES[dim]) return DIM_NAMES[dim];
  if (dim.startsWith("event:props:")) return `Property ${dim.slice(12)}`;
  return dim.replace(/^visit:utm_/, "UTM ").replace(/^\w+:/, "");
}

/** The filter value a row stands for (direct traffic is "Direct / None" in the API). */
export function filterValue(dim, value) {
  if (value == null) return dim === "visit:source" ? DIRECT : null;
  return String(value);
}

export function valueName(dim, value) {
  if (value == null || value === "") {
    if (dim === "visit:source") return DIRECT;
    if (dim === "visit:country" || dim === "visit:region" || dim === "visit:city") return "Unknown";
    return "(none)";
  }
  if (dim === "visit:country") {
    if (value === "ZZ" || value === "XX" || value === "--") return "Unknown";
    try {
      return regionNames.of(value) || value;
    } catch {
      return value;
    }
  }
  if (dim === "visit:device") return String(value).charAt(0).toUpperCase() + String(value).slice(1);
  return String(value);
}
