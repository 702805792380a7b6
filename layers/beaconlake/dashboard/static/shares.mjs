// Shared links: the "Share" button in the header and its dialog (create a read-only link with
// a label, a password, an expiry and a small-count threshold k; copy or revoke existing ones).
import { html, useEffect, useRef, useState } from "./vendor/htm-preact.mjs";
import { call, useAsync } from "./api.mjs";
import { copyText } from "./manage.mjs";

const EXPIRY = [
  ["", "never"],
  ["1", "in 1 day"],
  ["7", "in 7 days"],
  ["30", "in 30 days"],
  ["90", "in 90 days"],
  ["365", "in a year"],
];

const absolute = (path) => (path ? `${location.origin}${path}` : "");

export function ShareButton({ site, ctx }) {
  const [open, setOpen] = useState(false);
  if (ctx && ctx.info && ctx.info.read_only) return null;
  return html`<button type="button" onClick=${() => setOpen(true)}>Share</button>
    ${open && html`<${ShareDialog} site=${site} onClose=${() => setOpen(false)} />`}`;
}

function CopyButton({ text, label }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    setDone(await copyText(text));
    setTimeout(() => setDone(false), 2000);
  };
  return html`<button type="button" class="copy" aria-label=${label} data-copied=${done ? "1" : ""} onClick=${copy}>
    ${done ? "Copied" : "Copy"}</button>`;
}

function ShareDialog({ site, onClose }) {
  const [version, setVersion] = useState(0);
  const [label, setLabel] = useState("");
  const [password, setPassword] = useState("");
  const [expires, setExpires] = useState("");
  const [k, setK] = useState("5");
  const [created, setCreated] = useState(null);
  const [error, setError] = useState("");
  const box = useRef(null);
  useEffect(() => box.current.querySelector("input").focus(), []);
  const res = useAsync(() => call("GET", "/api/dashboard/shares"), version);
  const create = async (e) => {
    e.preventDefault();
    setError("");
    try {
      const body = { site_id: site, label, password: password || null, min_count: Number(k) || 5 };
      if (expires) body.expires_days = Number(expires);
      const share = await call("POST", "/api/dashboard/shares", body);
      setCreated(absolute(share.path));
      setLabel("");
      setPassword("");
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err.message);
    }
  };
  const revoke = async (id) => {
    setError("");
    try {
      await call("DELETE", `/api/dashboard/shares/${encodeURIComponent(id)}`);
    } catch (err) {
      setError(err.message);
    }
    setVersion((v) => v + 1);
  };
  const shares = ((res.data && res.data.shares) || []).filter((s) => s.site_id === site);
  return html`<div class="overlay" role="dialog" aria-modal="true" aria-labelledby="share-title"
      onKeyDown=${(e) => e.key === "Escape" && onClose()}>
    <div class="dialog" ref=${box}>
      <h2 id="share-title">Shared links for ${site}</h2>
      <p>Anyone with a link can read this site's dashboard, and change nothing. Counts below k show as ${'"< k"'},
        so a public dashboard cannot single out a visitor. Revoke a link to end it.</p>
      <form onSubmit=${create} class="share-form">
        <label>Label <input value=${label} maxlength="100" onInput=${(e) => setLabel(e.target.value)} /></label>
        <label>Password (optional, 8+ characters)
          <input type="password" minlength="8" autocomplete="new-password" value=${password}
            onInput=${(e) => setPassword(e.target.value)} /></label>
        <label>Expires <select name="expires" value=${expires} onChange=${(e) => setExpires(e.target.value)}>
          ${EXPIRY.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
        </select></label>
        <label>Hide counts below k <input type="number" name="min_count" min="1" max="100" required value=${k}
          onInput=${(e) => setK(e.target.value)} /></label>
        <button type="submit" class="primary">Create link</button>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${created &&
      html`<p class="created">New link: <span class="copy-row"><input readonly value=${created} aria-label="New shared link"
        onFocus=${(e) => e.target.select()} /><${CopyButton} text=${created} label="Copy the new link" /></span></p>`}
      <ul class="shares">
        ${shares.map(
          (s) => html`<li data-share=${s.id}>
            <span>${s.label || s.id}${s.has_password ? " · password" : ""} · ${String(s.created || "").slice(0, 10)}
              ${s.expires_at ? ` · expires ${new Date(s.expires_at * 1000).toISOString().slice(0, 10)}` : ""}
              ${s.min_count ? ` · k = ${s.min_count}` : ""}</span>
            ${s.path &&
            html`<span class="copy-row"><input readonly class="share-url" value=${absolute(s.path)}
              aria-label=${`Link ${s.label || s.id}`} onFocus=${(e) => e.target.select()} />
              <${CopyButton} text=${absolute(s.path)} label=${`Copy link ${s.label || s.id}`} /></span>`}
            <button type="button" onClick=${() => revoke(s.id)}>Revoke</button>
          </li>`,
        )}
      </ul>
      <button type="button" onClick=${onClose}>Close</button>
    </div>
  </div>`;
}
