'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { build, SOURCE, OUTPUT } = require('../scripts/build');
const { sri } = require('../scripts/sri');

const MAX_GZIP_BYTES = 1500;
const DOCS = ['docs/TRACKER.md', 'README.md'].map((f) => path.join(__dirname, '..', '..', f));

test('dist/tracker.min.js is a fresh build of src/tracker.js (run `npm run build`)', async () => {
  assert.equal(fs.readFileSync(OUTPUT, 'utf8'), await build());
});

test(`the built tracker is at most ${MAX_GZIP_BYTES} bytes gzipped`, (t) => {
  const code = fs.readFileSync(OUTPUT);
  const gzipped = zlib.gzipSync(code, { level: 9 }).length;
  t.diagnostic(`tracker.min.js: ${code.length} bytes, ${gzipped} bytes gzipped (level 9)`);
  assert.ok(gzipped <= MAX_GZIP_BYTES, `${gzipped} bytes gzipped is over ${MAX_GZIP_BYTES}`);
});

test('docs/TRACKER.md and README.md give the current SRI hash (run `npm run sri`)', () => {
  const hash = sri(fs.readFileSync(OUTPUT));
  for (const doc of DOCS) {
    assert.ok(fs.readFileSync(doc, 'utf8').includes(hash), `${path.basename(doc)} lacks ${hash}`);
  }
});

test('the source uses no cookies, storage writes or fingerprinting APIs', () => {
  const source = fs.readFileSync(SOURCE, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*/g, '');
  for (const api of [
    'cookie',
    'setItem',
    'sessionStorage',
    'indexedDB',
    'canvas',
    'getContext',
    'screen',
    'plugins',
    'hardwareConcurrency',
    'deviceMemory',
    'userAgent',
    'language',
    'getTimezoneOffset',
    'Intl',
    'AudioContext',
    'RTCPeerConnection',
  ]) {
    assert.ok(!source.includes(api), `src/tracker.js uses ${api}`);
  }
});
