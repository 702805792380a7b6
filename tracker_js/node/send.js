"use strict";
// Send events to a Beaconlake collector from Node (18 or later; no dependencies). Not part
// of the browser tracker. The protocol, batching and retries are those of the Python sender
// (layers/beaconlake/send.py; docs/SENDING.md):
//
//   const { Sender } = require("./send.js");
//   const sender = new Sender("https://stats.example.com/api/event", "bl_<id>_<secret>");
//   sender.event("Signup", "https://example.com/welcome", { ip, ua, props: { plan: "pro" } });
//   await sender.close();
//
// event() queues and returns; batches (a JSON array of at most 100) go out when batchSize
// are queued, every `interval` ms and on flush()/close(). Network errors, 408, 429 and 5xx
// are retried after a growing pause with the same signature, so a batch that arrived while
// its reply was lost is answered "already received" and not counted twice. Nothing here
// throws into the caller or rejects a promise it is handed.

const crypto = require("node:crypto");

const MAX_BATCH = 100;
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** `t=<t>,v1=<hex>`: HMAC-SHA256 of "<t>.<body>" keyed with the hex SHA-256 of the key's
 * secret (the part after `bl_<id>_`), which is what the collector stores. */
function signature(key, body, t) {
  const parts = key.split("_");
  const secret = key.startsWith("bl_") && parts.length >= 3 ? parts.slice(2).join("_") : key;
  const signingKey = crypto.createHash("sha256").update(secret).digest("hex");
  const mac = crypto.createHmac("sha256", signingKey).update(`${t}.`).update(body).digest("hex");
  return `t=${t},v1=${mac}`;
}

function hostOf(url) {
  try {
    return new URL(url).hostname.replace(/^www\./, "");
  } catch {
    return "";
  }
}

class Sender {
  constructor(url, key, options = {}) {
    if (!/^https?:\/\//.test(url)) throw new Error("the collector URL must be http:// or https://");
    this.url = url;
    this.key = key;
    this.sign = options.sign !== false;
    this.batchSize = Math.max(1, Math.min(options.batchSize || 50, MAX_BATCH));
    this.interval = options.interval ?? 2000;
    this.retries = options.retries ?? 5;
    this.backoff = options.backoff ?? 500;
    this.timeout = options.timeout ?? 5000;
    this.sleep = options.sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.fetch = options.fetch || globalThis.fetch;
    this.sent = 0; // events the collector accepted (or had already received)
    this.lost = 0; // events given up on: refused (4xx) or out of retries
    this.queue = [];
    this.sending = Promise.resolve();
    this.timer = null;
    this.closed = false;
  }

  /** Queue one event (a pageview is name "pageview"). Never throws. */
  event(name, url, options = {}) {
    try {
      if (this.closed) {
        this.lost += 1;
        return;
      }
      const item = { n: name, u: url, d: options.domain || hostOf(url) };
      if (options.referrer) item.r = options.referrer;
      if (options.props) item.p = options.props;
      if (options.revenue) item.$ = options.revenue;
      if (this.sign) {
        // the collector takes these from a signed request only
        item.ts = Math.round((options.ts ?? Date.now() / 1000) * 1000) / 1000;
        if (options.ip) item.ip = options.ip;
        if (options.ua) item.ua = options.ua;
      }
      this.queue.push(item);
      if (this.queue.length >= this.batchSize) this.flush();
      else if (!this.timer && this.interval > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.flush();
        }, this.interval);
        if (this.timer.unref) this.timer.unref();
      }
    } catch (err) {
      this.lost += 1;
    }
  }

  /** Send everything queued; resolves when it is sent or given up on. */
  flush() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batches = [];
    while (this.queue.length) batches.push(this.queue.splice(0, this.batchSize));
    for (const batch of batches) {
      this.sending = this.sending.then(() => this.deliver(batch)).catch(() => {});
    }
    return this.sending;
  }

  /** Send what is queued and take no more events. */
  close() {
    this.closed = true;
    return this.flush();
  }

  async deliver(batch) {
    const body = JSON.stringify(batch);
    const headers = { "content-type": "application/json", authorization: `Bearer ${this.key}` };
    if (this.sign) headers["x-beaconlake-signature"] = signature(this.key, body, Math.floor(Date.now() / 1000));
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      let wait = this.backoff * 2 ** attempt;
      try {
        const reply = await this.fetch(this.url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(this.timeout),
        });
        const text = await reply.text();
        if (reply.ok || (reply.status === 401 && text.includes("already received"))) {
          this.sent += batch.length;
          return;
        }
        if (!RETRY_STATUSES.has(reply.status)) break;
        const retryAfter = Number(reply.headers.get("retry-after"));
        if (retryAfter > 0) wait = Math.max(wait, retryAfter * 1000);
      } catch (err) {
        // network error or timeout: retried
      }
      if (attempt < this.retries) await this.sleep(wait);
    }
    this.lost += batch.length;
  }
}

module.exports = { Sender, signature, MAX_BATCH };
