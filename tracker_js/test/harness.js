// Loads the built tracker into a jsdom page, the way a browser would: from a <script src>
// tag, with a stand-in navigator.sendBeacon that records every beacon.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { JSDOM, VirtualConsole, requestInterceptor } = require('jsdom');

const DIST = path.join(__dirname, '..', 'dist', 'tracker.min.js');
const CLICKS_DIST = path.join(__dirname, '..', 'dist', 'clicks.min.js');
const SCRIPT_URL = 'https://stats.example.org/tracker.js';
const CLICKS_URL = 'https://stats.example.org/clicks.js';
const SERVED = { [SCRIPT_URL]: DIST, [CLICKS_URL]: CLICKS_DIST };
const STUB =
  'window.beaconlake=window.beaconlake||function(){(window.beaconlake.q=window.beaconlake.q||[]).push(arguments)}';

// Serves the tracker and the click module; every other request gets a 404, so nothing
// leaves the machine.
const serveTracker = requestInterceptor((request) =>
  SERVED[request.url]
    ? new Response(fs.readFileSync(SERVED[request.url]), {
        headers: { 'content-type': 'text/javascript' },
      })
    : new Response('not found', { status: 404 })
);

/**
 * Opens a page with the tracker installed.
 *   attrs:      attributes of the script tag (default data-domain="shop.test")
 *   url:        the page's URL
 *   head, body: extra HTML before the script tag and in the body
 *   after:      extra HTML after the script tag (e.g. the click module's tag)
 *   navigator:  properties to define on navigator before the script runs
 *   beacon:     false for a browser without sendBeacon; or a function(url, body) standing in
 * Returns { window, document, sent, errors }: sent holds {endpoint, transport, ...payload}.
 */
async function open(options = {}) {
  const {
    attrs = 'data-domain="shop.test"',
    url = 'https://shop.test/',
    head = '',
    after = '',
    body = '',
    referrer,
    navigator = {},
    beacon,
    fetch,
  } = options;
  const sent = [];
  const errors = [];
  const virtualConsole = new VirtualConsole();
  virtualConsole.on('jsdomError', (error) => errors.push(error));
  const record = (transport) => (endpoint, payload) =>
    sent.push({ endpoint, transport, ...JSON.parse(payload) });
  const html =
    `<!doctype html><html><head>${head}<script ${attrs} src="${SCRIPT_URL}"></script>${after}</head>` +
    `<body>${body}</body></html>`;
  const dom = new JSDOM(html, {
    url,
    referrer,
    runScripts: 'dangerously',
    resources: { interceptors: [serveTracker] },
    pretendToBeVisual: true,
    virtualConsole,
    beforeParse(window) {
      for (const [key, value] of Object.entries(navigator)) {
        Object.defineProperty(window.navigator, key, { value, configurable: true });
      }
      if (beacon !== false) {
        const recordBeacon = record('beacon');
        window.navigator.sendBeacon =
          beacon || ((endpoint, payload) => (recordBeacon(endpoint, payload), true));
      }
      const recordFetch = record('fetch');
      window.fetch =
        fetch ||
        ((endpoint, init) => {
          recordFetch(endpoint, init.body);
          sent[sent.length - 1].init = init;
          return Promise.resolve({ status: 202 });
        });
    },
  });
  const { window } = dom;
  await new Promise((resolve) => window.addEventListener('load', resolve));
  return { window, document: window.document, sent, errors };
}

function names(sent) {
  return sent.map((b) => b.n);
}

function click(window, element, init = {}) {
  const type = init.type || 'click';
  element.dispatchEvent(
    new window.MouseEvent(type, { bubbles: true, cancelable: true, button: 0, ...init })
  );
}

function setHidden(window, hidden) {
  Object.defineProperty(window.document, 'hidden', { value: hidden, configurable: true });
  window.document.dispatchEvent(new window.Event('visibilitychange'));
}

function setScroll(window, { scrollY, innerHeight, scrollHeight }) {
  Object.defineProperty(window, 'scrollY', { value: scrollY, configurable: true });
  Object.defineProperty(window, 'innerHeight', { value: innerHeight, configurable: true });
  Object.defineProperty(window.document.documentElement, 'scrollHeight', {
    value: scrollHeight,
    configurable: true,
  });
  window.dispatchEvent(new window.Event('scroll'));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = {
  open,
  names,
  click,
  setHidden,
  setScroll,
  sleep,
  STUB,
  SCRIPT_URL,
  CLICKS_URL,
  DIST,
};
