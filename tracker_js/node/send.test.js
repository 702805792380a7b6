"use strict";
// node --test tracker_js/node/ : the Node sender against a stand-in collector on 127.0.0.1.
const test = require("node:test");
const assert = require("node:assert");
const http = require("node:http");
const { Sender, signature } = require("./send.js");

const KEY = "bl_0123456789ab_" + "s".repeat(43);

async function collector(plan = []) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      requests.push({ headers: req.headers, body });
      const status = plan.length ? plan.shift() : 202;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(status === 401 ? '{"error":"already received"}' : "{}");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/api/event`;
  const events = () => requests.flatMap((r) => JSON.parse(r.body));
  return { server, url, requests, events };
}

function sender(url, options = {}) {
  return new Sender(url, KEY, { interval: 0, backoff: 1, sleep: async () => {}, ...options });
}

test("the signature is the one the Python collector checks", () => {
  // the same vector as beaconlake.ingest.signed.sign(KEY, body, 1700000000)
  assert.strictEqual(
    signature(KEY, '[{"n":"pageview"}]', 1700000000),
    "t=1700000000,v1=0a9892227974712c20de461e80a9b2659b19d1dae515745e285b3bd42fdf29d5",
  );
});

test("events go in signed batches of batchSize with ip, ua and ts", async () => {
  const c = await collector();
  const s = sender(c.url, { batchSize: 2 });
  for (let i = 0; i < 5; i++) {
    s.event("pageview", `https://www.example.com/${i}`, { ip: "198.51.100.1", ua: "UA", ts: 100 });
  }
  await s.close();
  c.server.close();
  assert.deepStrictEqual(
    c.requests.map((r) => JSON.parse(r.body).length),
    [2, 2, 1],
  );
  assert.deepStrictEqual(c.events()[0], {
    n: "pageview",
    u: "https://www.example.com/0",
    d: "example.com",
    ts: 100,
    ip: "198.51.100.1",
    ua: "UA",
  });
  for (const r of c.requests) {
    assert.strictEqual(r.headers.authorization, `Bearer ${KEY}`);
    const t = Number(r.headers["x-beaconlake-signature"].split(",")[0].slice(2));
    assert.strictEqual(r.headers["x-beaconlake-signature"], signature(KEY, r.body, t));
  }
  assert.deepStrictEqual([s.sent, s.lost], [5, 0]);
});

test("unsigned events leave out ip, ua and ts", async () => {
  const c = await collector();
  const s = sender(c.url, { sign: false });
  s.event("Signup", "https://example.com/", { ip: "198.51.100.1", ua: "UA", props: { plan: "pro" } });
  await s.flush();
  c.server.close();
  assert.strictEqual(c.requests[0].headers["x-beaconlake-signature"], undefined);
  assert.deepStrictEqual(c.events(), [
    { n: "Signup", u: "https://example.com/", d: "example.com", p: { plan: "pro" } },
  ]);
});

test("5xx and 429 are retried with the same signature; already received counts as sent", async () => {
  const c = await collector([503, 429, 500, 401]);
  const s = sender(c.url);
  s.event("pageview", "https://example.com/");
  await s.flush();
  c.server.close();
  assert.strictEqual(c.requests.length, 4);
  assert.strictEqual(new Set(c.requests.map((r) => r.headers["x-beaconlake-signature"])).size, 1);
  assert.deepStrictEqual([s.sent, s.lost], [1, 0]);
});

test("a 400 is given up at once; network errors after the retries, never throwing", async () => {
  const c = await collector([400]);
  const s = sender(c.url);
  s.event("pageview", "https://example.com/");
  await s.flush();
  c.server.close();
  assert.deepStrictEqual([s.sent, s.lost, c.requests.length], [0, 1, 1]);
  const offline = sender("http://127.0.0.1:9/api/event", { retries: 2 });
  offline.event("pageview", "https://example.com/");
  offline.event("pageview", null);
  await offline.flush();
  assert.deepStrictEqual([offline.sent, offline.lost], [0, 2]);
});

test("the interval timer sends a part batch", async () => {
  const c = await collector();
  const s = sender(c.url, { interval: 20 });
  s.event("pageview", "https://example.com/");
  await new Promise((resolve) => setTimeout(resolve, 200));
  await s.sending;
  c.server.close();
  assert.deepStrictEqual([s.sent, c.requests.length], [1, 1]);
});
