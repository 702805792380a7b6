// Prints the Subresource Integrity hash of dist/tracker.min.js, for integrity="...".
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const { OUTPUT } = require('./build');

function sri(data) {
  return 'sha384-' + crypto.createHash('sha384').update(data).digest('base64');
}

if (require.main === module) {
  console.log(sri(fs.readFileSync(OUTPUT)));
}

module.exports = { sri };
