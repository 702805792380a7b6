'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { open, names, click, setHidden, setScroll, sleep, STUB } = require('./harness');

const ENDPOINT = 'https://stats.example.org/api/event';

test('sends one pageview with the Plausible payload to the script origin', async () => {
  const { sent, errors } = await open({
    url: 'https://shop.test/shoes?utm_source=news#top',
    referrer: 'https://www.google.com/search?q=x',
  });
  assert.deepEqual(sent, [
    {
      endpoint: ENDPOINT,
      transport: 'beacon',
      n: 'pageview',
      u: 'https://shop.test/shoes?utm_source=news#top',
      d: 'shop.test',
      r: 'https://www.google.com/search?q=x',
    },
  ]);
  assert.deepEqual(errors, []);
});

test('data-api overrides the endpoint; the domain defaults to the host name', async () => {
  const { sent } = await open({ attrs: 'data-api="/collect/event"' });
  assert.equal(sent.length, 1);
  assert.equal(sent[0].endpoint, '/collect/event');
  assert.equal(sent[0].d, 'shop.test');
  assert.equal(sent[0].r, null);
});

test('SPA navigation: pushState, replaceState and popstate count new paths only', async () => {
  const { window, sent } = await open({ url: 'https://shop.test/' });
  window.history.pushState({}, '', '/products');
  window.history.pushState({}, '', '/products?sort=price');
  window.history.replaceState({}, '', '/products?sort=name');
  window.history.replaceState({}, '', '/checkout');
  const popped = new Promise((resolve) => window.addEventListener('popstate', resolve));
  window.history.back();
  await popped;
  const pageviews = sent.filter((b) => b.n === 'pageview').map((b) => new URL(b.u).pathname);
  assert.deepEqual(pageviews, ['/', '/products', '/checkout', '/products']);
});

test('the patched history methods keep their results and their errors', async () => {
  const { window, sent } = await open();
  assert.equal(window.history.pushState({ a: 1 }, '', '/x'), undefined);
  assert.deepEqual(window.history.state, { a: 1 });
  assert.throws(() => window.history.pushState({}, '', 'https://elsewhere.test/'), /SecurityError|origin/i);
  assert.deepEqual(
    sent.filter((b) => b.n === 'pageview').map((b) => b.u),
    ['https://shop.test/', 'https://shop.test/x']
  );
});

test('hash routing is opt-in: data-hash counts hash changes and sends h', async () => {
  const plain = await open({ url: 'https://shop.test/#/home' });
  plain.window.location.hash = '#/cart';
  await sleep(10);
  assert.deepEqual(names(plain.sent), ['pageview']);
  assert.equal(plain.sent[0].h, undefined);

  const hashed = await open({ url: 'https://shop.test/#/home', attrs: 'data-domain="shop.test" data-hash' });
  hashed.window.location.hash = '#/cart';
  await new Promise((resolve) => hashed.window.addEventListener('hashchange', resolve));
  assert.deepEqual(
    hashed.sent.filter((b) => b.n === 'pageview').map((b) => [b.n, b.u, b.h]),
    [
      ['pageview', 'https://shop.test/#/home', 1],
      ['pageview', 'https://shop.test/#/cart', 1],
    ]
  );
});

test('custom events carry props, revenue and interactive, and call the callback', async () => {
  const { window, sent } = await open();
  let called = 0;
  window.beaconlake('Purchase', {
    props: { plan: 'pro', seats: 3 },
    revenue: { amount: 29.99, currency: 'EUR' },
    callback: () => called++,
  });
  window.beaconlake('Video Played', { interactive: false });
  assert.equal(called, 1);
  assert.deepEqual(sent[1], {
    endpoint: ENDPOINT,
    transport: 'beacon',
    n: 'Purchase',
    u: 'https://shop.test/',
    d: 'shop.test',
    r: null,
    p: { plan: 'pro', seats: 3 },
    $: { amount: 29.99, currency: 'EUR' },
  });
  assert.equal(sent[2].i, false);
});

test('calls made before the script loads are queued and sent after the pageview', async () => {
  const { window, sent } = await open({
    head: `<script>${STUB};beaconlake('Promo Seen',{props:{slot:'hero'}});beaconlake('Signup')</script>`,
  });
  assert.deepEqual(names(sent), ['pageview', 'Promo Seen', 'Signup']);
  assert.deepEqual(sent[1].p, { slot: 'hero' });
  assert.equal(typeof window.beaconlake.q, 'undefined');
});

test('outbound links are opt-in, sent on click and middle click, without query strings', async () => {
  const body =
    '<a id="out" href="https://other.test/page?ref=1#x"><span id="inner">go</span></a>' +
    '<a id="local" href="/about">about</a><a id="mail" href="mailto:a@b.test">mail</a>';
  const off = await open({ body });
  click(off.window, off.document.getElementById('out'));
  assert.deepEqual(names(off.sent), ['pageview']);

  const on = await open({ body, attrs: 'data-domain="shop.test" data-outbound' });
  const w = on.window;
  w.document.addEventListener('click', (e) => e.preventDefault());
  click(w, on.document.getElementById('inner'));
  click(w, on.document.getElementById('out'), { type: 'auxclick', button: 1 });
  click(w, on.document.getElementById('out'), { type: 'auxclick', button: 2 });
  click(w, on.document.getElementById('local'));
  click(w, on.document.getElementById('mail'));
  const outbound = on.sent.filter((b) => b.n === 'Outbound Link: Click');
  assert.equal(outbound.length, 2);
  assert.deepEqual(outbound[0].p, { url: 'https://other.test/page' });
  assert.equal(on.sent.length, 3);
});

test('file downloads are opt-in, with a default or a custom list of extensions', async () => {
  const body = '<a id="pdf" href="/files/menu.PDF?v=2">pdf</a><a id="csv" href="/prices.csv">csv</a>';
  const defaults = await open({ body, attrs: 'data-domain="shop.test" data-downloads' });
  defaults.document.addEventListener('click', (e) => e.preventDefault());
  click(defaults.window, defaults.document.getElementById('pdf'));
  click(defaults.window, defaults.document.getElementById('csv'));
  assert.deepEqual(
    defaults.sent.slice(1).map((b) => [b.n, b.p.url]),
    [
      ['File Download', 'https://shop.test/files/menu.PDF'],
      ['File Download', 'https://shop.test/prices.csv'],
    ]
  );

  const custom = await open({ body, attrs: 'data-domain="shop.test" data-downloads="zip, csv"' });
  custom.document.addEventListener('click', (e) => e.preventDefault());
  click(custom.window, custom.document.getElementById('pdf'));
  click(custom.window, custom.document.getElementById('csv'));
  assert.deepEqual(names(custom.sent), ['pageview', 'File Download']);
  assert.equal(custom.sent[1].p.url, 'https://shop.test/prices.csv');
});

test('the 404 helper sends the missing path as a prop', async () => {
  const { window, sent } = await open({ url: 'https://shop.test/no/such/page?x=1' });
  window.beaconlake('404', { props: { from: 'nav' } });
  assert.equal(sent[1].n, '404');
  assert.deepEqual(sent[1].p, { path: '/no/such/page', from: 'nav' });
});

test('tagged elements send their event; forms on submit only', async () => {
  const body =
    '<button id="b" class="btn beaconlake-event-name=Sign+up beaconlake-event-plan=free+trial">' +
    '<b id="inner">go</b></button>' +
    '<form id="f" class="beaconlake-event-name=Contact beaconlake-event-topic=sales">' +
    '<button id="submit" type="submit">send</button></form>' +
    '<a id="tagged-out" class="beaconlake-event-name=Partner" href="https://other.test/">p</a>';
  const { window, document, sent } = await open({ body, attrs: 'data-domain="shop.test" data-outbound' });
  document.addEventListener('click', (e) => e.preventDefault());
  document.addEventListener('submit', (e) => e.preventDefault());
  click(window, document.getElementById('inner'));
  click(window, document.getElementById('submit'));
  document.getElementById('f').dispatchEvent(new window.Event('submit', { bubbles: true, cancelable: true }));
  click(window, document.getElementById('tagged-out'));
  assert.deepEqual(
    sent.slice(1).map((b) => [b.n, b.p]),
    [
      ['Sign up', { plan: 'free trial' }],
      ['Contact', { topic: 'sales' }],
      ['Partner', {}],
    ]
  );
});

test('engagement: scroll depth and visible time, sent when hidden and before SPA pageviews', async () => {
  const { window, sent } = await open({ url: 'https://shop.test/long' });
  setScroll(window, { scrollY: 0, innerHeight: 500, scrollHeight: 2000 });
  setScroll(window, { scrollY: 1000, innerHeight: 500, scrollHeight: 2000 });
  setScroll(window, { scrollY: 200, innerHeight: 500, scrollHeight: 2000 });
  await sleep(30);
  setHidden(window, true);
  setHidden(window, true);
  window.dispatchEvent(new window.Event('pagehide'));
  const first = sent.filter((b) => b.n === 'engagement');
  assert.equal(first.length, 1, 'nothing new to report after the first hide');
  assert.equal(first[0].u, 'https://shop.test/long');
  assert.equal(first[0].sd, 75);
  assert.ok(first[0].e >= 25 && first[0].e < 5000, `engaged ms ${first[0].e}`);

  await sleep(30);
  setHidden(window, false);
  await sleep(30);
  window.history.pushState({}, '', '/next');
  const last = sent.slice(-2);
  assert.deepEqual(
    last.map((b) => [b.n, b.u]),
    [
      ['engagement', 'https://shop.test/long'],
      ['pageview', 'https://shop.test/next'],
    ]
  );
  assert.ok(last[0].e >= 25 && last[0].e < first[0].e + 1000, 'hidden time is not engaged time');
  assert.equal(last[0].sd, 75);
});

test('leaving a page reports its engagement once, whatever the order of the events', async () => {
  const { window, sent } = await open();
  await sleep(20);
  window.dispatchEvent(new window.Event('pagehide'));
  await sleep(10);
  setHidden(window, true);
  const engagement = sent.filter((b) => b.n === 'engagement');
  assert.equal(engagement.length, 1);
  assert.ok(engagement[0].e >= 15, `engaged ms ${engagement[0].e}`);
});

test('data-manual: no automatic pageviews; manual pageviews with a custom URL', async () => {
  const { window, sent } = await open({
    url: 'https://shop.test/user/123/orders',
    attrs: 'data-domain="shop.test" data-manual',
    head: `<script>${STUB};beaconlake('pageview',{u:'https://shop.test/user/:id/orders'})</script>`,
  });
  window.history.pushState({}, '', '/user/123/settings');
  assert.deepEqual(
    sent.map((b) => [b.n, b.u]),
    [['pageview', 'https://shop.test/user/:id/orders']]
  );
});

for (const [label, options, navigate = true] of [
  ['Do Not Track', { navigator: { doNotTrack: '1' } }],
  ['Global Privacy Control', { navigator: { globalPrivacyControl: true } }],
  ['localhost', { url: 'http://localhost:3000/' }],
  ['127.0.0.1', { url: 'http://127.0.0.1:8000/' }],
  // jsdom allows no pushState on a file: page (an opaque origin)
  ['a file: page', { url: 'file:///home/me/page.html' }, false],
  ['an automated browser', { navigator: { webdriver: true } }],
]) {
  test(`sends nothing for ${label}, but callbacks still run`, async () => {
    const { window, sent, errors } = await open(options);
    let called = false;
    window.beaconlake('Signup', { callback: () => (called = true) });
    if (navigate) window.history.pushState({}, '', '/next');
    setHidden(window, true);
    assert.deepEqual(sent, []);
    assert.equal(called, true);
    assert.deepEqual(errors, []);
  });
}

for (const [label, attr, options] of [
  ['data-ignore-dnt', 'data-ignore-dnt', { navigator: { doNotTrack: '1', globalPrivacyControl: true } }],
  ['data-allow-local', 'data-allow-local', { url: 'http://localhost:3000/' }],
  ['data-allow-automation', 'data-allow-automation', { navigator: { webdriver: true } }],
]) {
  test(`${label} overrides its opt-out`, async () => {
    const { sent } = await open({ ...options, attrs: `data-domain="shop.test" ${attr}` });
    assert.deepEqual(names(sent), ['pageview']);
  });
}

test('the per-browser opt-out in localStorage stops and resumes sending', async () => {
  const { window, sent } = await open();
  window.localStorage.setItem('beaconlake_ignore', 'true');
  window.beaconlake('Hidden');
  window.localStorage.removeItem('beaconlake_ignore');
  window.beaconlake('Shown');
  assert.deepEqual(names(sent), ['pageview', 'Shown']);
});

test('falls back to fetch with keepalive when sendBeacon is missing or refuses', async () => {
  const missing = await open({ beacon: false });
  assert.equal(missing.sent[0].transport, 'fetch');
  assert.equal(missing.sent[0].endpoint, ENDPOINT);
  assert.deepEqual(
    { method: missing.sent[0].init.method, keepalive: missing.sent[0].init.keepalive },
    { method: 'POST', keepalive: true }
  );

  const refused = await open({ beacon: () => false });
  assert.deepEqual(
    refused.sent.map((b) => [b.transport, b.n]),
    [['fetch', 'pageview']]
  );
});

test('never throws into the page', async () => {
  const rejected = await open({ beacon: false, fetch: () => Promise.reject(new TypeError('offline')) });
  rejected.window.beaconlake('Signup');
  await sleep(10);
  assert.deepEqual(rejected.errors, []);

  const broken = await open({
    beacon: () => {
      throw new Error('broken');
    },
  });
  let called = false;
  const cyclic = {};
  cyclic.self = cyclic;
  broken.window.beaconlake('Signup', { props: cyclic, callback: () => (called = true) });
  click(broken.window, broken.document.body);
  broken.document.dispatchEvent(new broken.window.Event('click'));
  setHidden(broken.window, true);
  assert.equal(called, true);
  assert.deepEqual(broken.errors, []);

  const malformed = await open({ attrs: 'data-domain="shop.test" data-downloads="(("' });
  assert.deepEqual(malformed.errors, []);
  assert.deepEqual(malformed.sent, []);
});

test('sets no cookie and stores nothing', async () => {
  const { window, document } = await open({ attrs: 'data-domain="shop.test" data-outbound data-downloads' });
  window.beaconlake('Signup', { props: { plan: 'pro' } });
  window.history.pushState({}, '', '/next');
  setHidden(window, true);
  assert.equal(document.cookie, '');
  assert.equal(window.localStorage.length, 0);
  assert.equal(window.sessionStorage.length, 0);
});
