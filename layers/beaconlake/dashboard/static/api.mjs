// Calls to the stats API. The owner's session cookie (HttpOnly, SameSite=Strict) goes along by
// itself; a shared link's login never is that cookie: the share page holds it (data-login, or
// the share-login answer) and every call sends it in the x-beaconlake-share header.
import { useEffect, useState } from "./vendor/htm-preact.mjs";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `the server answered ${status}`);
    this.status = status;
    this.field = body && body.field;
    this.rule = body && body.rule;
  }
}

let shareLogin = document.body.dataset.login || "";
const shareHeaders = () => (shareLogin ? { "x-beaconlake-share": shareLogin } : {});

const listeners = new Set();
/** Called with no arguments when any request comes back 401 (the session ended). */
export function onLoggedOut(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: shareHeaders() };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (res.status === 401 && !path.endsWith("/login")) listeners.forEach((fn) => fn());
  if (!res.ok) throw new ApiError(res.status, data);
  if (data && data.via === "share" && data.login) shareLogin = data.login;
  return data;
}

export const query = (body) => call("POST", "/api/v2/query", body);

/** Downloads a query's result as CSV under `filename`. */
export async function downloadCsv(body, filename) {
  const res = await fetch("/api/v2/query?format=csv", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", ...shareHeaders() },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Runs `fetcher()` whenever `key` changes; {data, error, loading}. A stale answer (the key
 * changed while it was in flight) is dropped.
 */
export function useAsync(fetcher, key) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, error: null, loading: true }));
    fetcher().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state;
}
