// Components from modules loaded on first use; a missing or broken module shows `fallback`.
import { html, useEffect, useState } from "./vendor/htm-preact.mjs";

const cache = new Map();

function load(path) {
  if (!cache.has(path)) cache.set(path, import(path).catch((err) => ({ __failed: err })));
  return cache.get(path);
}

export function Lazy({ path, name, props, fallback = null }) {
  const [component, setComponent] = useState(null);
  useEffect(() => {
    let live = true;
    load(path).then((mod) => live && setComponent(() => (mod && typeof mod[name] === "function" ? mod[name] : false)));
    return () => {
      live = false;
    };
  }, [path, name]);
  if (component === null) return null;
  if (component === false) return fallback;
  const Component = component;
  return html`<${Component} ...${props} />`;
}
