// Minifies src/tracker.js into dist/tracker.min.js and the optional click module
// src/clicks.js into dist/clicks.min.js. `node scripts/build.js` writes the files; the tests
// call build() and compare, so a stale dist/ fails `npm test`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { minify } = require('terser');

const ROOT = path.join(__dirname, '..');
const SOURCE = path.join(ROOT, 'src', 'tracker.js');
const OUTPUT = path.join(ROOT, 'dist', 'tracker.min.js');
const CLICKS_SOURCE = path.join(ROOT, 'src', 'clicks.js');
const CLICKS_OUTPUT = path.join(ROOT, 'dist', 'clicks.min.js');
const FILES = [
  [SOURCE, OUTPUT],
  [CLICKS_SOURCE, CLICKS_OUTPUT],
];

async function build(source = SOURCE) {
  const result = await minify(fs.readFileSync(source, 'utf8'), {
    ecma: 2017,
    compress: { passes: 3, unsafe: true, unsafe_arrows: false },
    mangle: true,
    format: { comments: false },
  });
  return result.code + '\n';
}

if (require.main === module) {
  (async () => {
    for (const [source, output] of FILES) {
      const code = await build(source);
      fs.mkdirSync(path.dirname(output), { recursive: true });
      fs.writeFileSync(output, code);
      console.log(`wrote ${path.relative(process.cwd(), output)} (${code.length} bytes)`);
    }
  })();
}

module.exports = { build, SOURCE, OUTPUT, CLICKS_SOURCE, CLICKS_OUTPUT };
