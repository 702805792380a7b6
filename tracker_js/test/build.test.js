'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { build, SOURCE, OUTPUT, CLICKS_SOURCE, CLICKS_OUTPUT } = require('../scripts/build');
const { sri } = require('../scripts/sri');

const MAX_GZIP_BYTES = 1500;
const MAX_CLICKS_GZIP_BYTES = 500;
const DOC = (f) => path.join(__dirname, '..', '..', f);

test('dist/tracker.min.js is a fresh build of src/tracker.js (run `npm run build`)', async () => {
  assert.equal(fs.readFileSync(OUTPUT, 'utf8'), await build());
});

test('dist/clicks.min.js is a fresh build of src/clicks.js (run `npm run build`)', async () => {
  assert.equal(fs.readFileSync(CLICKS_OUTPUT, 'utf8'), await build(CLICKS_SOURCE));
});

test(`the click module is at most ${MAX_CLICKS_GZIP_BYTES} bytes gzipped`, (t) => {
  const code = fs.readFileSync(CLICKS_OUTPUT);
  const gzipped = zlib.gzipSync(code, { level: 9 }).length;
  t.diagnostic(`clicks.min.js: ${code.length} bytes, ${gzipped} bytes gzipped (level 9)`);
  assert.ok(gzipped <= MAX_CLICKS_GZIP_BYTES, `${gzipped} bytes gzipped is over ${MAX_CLICKS_GZIP_BYTES}`);
});

test(`the built tracker is at most ${MAX_GZIP_BYTES} bytes gzipped`, (t) => {
  const code = fs.readFileSync(OUTPUT);
  const gzipped = zlib.gzipSync(code, { level: 9 }).length;
  t.diagnostic(`tracker.min.js: ${code.length} bytes, ${gzipped} bytes gzipped (level 9)`);
  assert.ok(gzipped <= MAX_GZIP_BYTES, `${gzipped} bytes gzipped is over ${MAX_GZIP_BYTES}`);
});

test("docs/TRACKER.md's pinned-copy example gives the current SRI hash (run `npm run sri`)", () => {
  const hash = sri(fs.readFileSync(OUTPUT));
  const text = fs.readFileSync(DOC('docs/TRACKER.md'), 'utf8');
  assert.ok(text.includes(hash), `TRACKER.md lacks ${hash}`);
});

test('the recommended tags pin no hash and name a full origin (a self-updating script)', () => {
  for (const doc of ['README.md', 'docs/TRACKER.md']) {
    const text = fs.readFileSync(DOC(doc), 'utf8');
    const tags = text.match(/<script[^>]*src="STATS_ORIGIN\/tracker\.js"[^>]*>/g) || [];
    assert.ok(tags.length > 0, `${doc} shows no tag for STATS_ORIGIN/tracker.js`);
    for (const tag of tags) assert.ok(!tag.includes('integrity'), `${doc}: ${tag}`);
    assert.ok(!/https?:\/\/STATS_/.test(text), `${doc} puts a scheme before STATS_ORIGIN`);
  }
});

test('the sources use no cookies, storage writes or fingerprinting APIs', () => {
  const source = [SOURCE, CLICKS_SOURCE]
    .map((file) => fs.readFileSync(file, 'utf8'))
    .join('\n')
    .replace(/\/\*[\s\S]*?\*\/|\/\/.*/g, '');
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
    assert.ok(!source.includes(api), `src/ uses ${api}`);
  }
});
