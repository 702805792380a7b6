// Minifies src/tracker.js into dist/tracker.min.js. `node scripts/build.js` writes the file;
// the tests call build() and compare, so a stale dist/ fails `npm test`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { minify } = require('terser');

const ROOT = path.join(__dirname, '..');
const SOURCE = path.join(ROOT, 'src', 'tracker.js');
const OUTPUT = path.join(ROOT, 'dist', 'tracker.min.js');

async function build() {
  const result = await minify(fs.readFileSync(SOURCE, 'utf8'), {
    ecma: 2017,
    compress: { passes: 3, unsafe: true, unsafe_arrows: false },
    mangle: true,
    format: { comments: false },
  });
  return result.code + '\n';
}

if (require.main === module) {
  build().then((code) => {
    fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
    fs.writeFileSync(OUTPUT, code);
    console.log(`wrote ${path.relative(process.cwd(), OUTPUT)} (${code.length} bytes)`);
  });
}

module.exports = { build, SOURCE, OUTPUT };
