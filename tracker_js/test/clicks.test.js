'use strict';
// The optional click module (dist/clicks.min.js), loaded next to the tracker in jsdom.
const test = require('node:test');
const assert = require('node:assert/strict');
const { open, names, click, CLICKS_URL } = require('./harness');

const CLICKS = `<script src="${CLICKS_URL}"></script>`;

async function page(body, options = {}) {
  const opened = await open({ after: CLICKS, body, ...options });
  // Links in these pages lead nowhere: jsdom would try to navigate.
  opened.document.addEventListener('click', (e) => e.preventDefault());
  return opened;
}

const clicks = (sent) => sent.filter((b) => b.n !== 'pageview' && b.n !== 'engagement');

test('data-bl-click sends its name with the trimmed text as label, also from a child', async () => {
  const { window, document, sent, errors } = await page(
    '<button id="b" data-bl-click="Sign up">\n   <span id="in">Start   your\n free trial</span>  </button>' +
      '<p id="plain">no tracking here</p>'
  );
  click(window, document.getElementById('in'));
  click(window, document.getElementById('plain'));
  assert.deepEqual(
    clicks(sent).map((b) => [b.n, b.p, b.u]),
    [['Sign up', { label: 'Start your free trial' }, 'https://shop.test/']]
  );
  assert.deepEqual(errors, []);
});

test('data-bl-label replaces the text; an empty data-bl-click sends "Click"', async () => {
  const { window, document, sent } = await page(
    '<a id="a" href="/pricing" data-bl-click="Pricing" data-bl-label="header">See prices</a>' +
      '<div id="d" data-bl-click>Ask us</div><button id="icon" data-bl-click="Menu"><svg></svg></button>'
  );
  click(window, document.getElementById('a'));
  click(window, document.getElementById('d'));
  click(window, document.getElementById('icon'));
  assert.deepEqual(
    clicks(sent).map((b) => [b.n, b.p]),
    [
      ['Pricing', { label: 'header' }],
      ['Click', { label: 'Ask us' }],
      ['Menu', {}],
    ]
  );
});

test('labels keep at most 100 characters, counted as characters not UTF-16 units', async () => {
  const text = `  ${'é'.repeat(60)} \n\t ${'😀'.repeat(60)}  `;
  const { window, document, sent } = await page(`<button id="b" data-bl-click="Long">${text}</button>`);
  click(window, document.getElementById('b'));
  const label = clicks(sent)[0].p.label;
  assert.equal(Array.from(label).length, 100);
  assert.equal(label, `${'é'.repeat(60)} ${'😀'.repeat(39)}`);
});

test('data-clicks on the module tag: a CSS selector list sends "Click" with a label', async () => {
  const { window, document, sent } = await open({
    after: `<script data-clicks="button.buy, a.cta" src="${CLICKS_URL}"></script>`,
    body:
      '<button id="buy" class="buy">Buy now</button><a id="cta" class="cta" href="/x">Try it</a>' +
      '<button id="other">Other</button><button id="named" class="buy" data-bl-click="Buy">Buy</button>',
  });
  document.addEventListener('click', (e) => e.preventDefault());
  for (const id of ['buy', 'cta', 'other', 'named']) click(window, document.getElementById(id));
  assert.deepEqual(
    clicks(sent).map((b) => [b.n, b.p.label]),
    [
      ['Click', 'Buy now'],
      ['Click', 'Try it'],
      ['Buy', 'Buy'],
    ]
  );
});

test('data-clicks on the tracker tag works too; a list the browser cannot parse is ignored', async () => {
  const listed = await page('<button id="b" class="buy">Buy</button>', {
    attrs: 'data-domain="shop.test" data-clicks=".buy"',
  });
  click(listed.window, listed.document.getElementById('b'));
  assert.deepEqual(names(clicks(listed.sent)), ['Click']);

  const broken = await page('<button id="b" class="buy">Buy</button><i id="i" data-bl-click="I">i</i>', {
    attrs: 'data-domain="shop.test" data-clicks="button[[["',
  });
  click(broken.window, broken.document.getElementById('b'));
  click(broken.window, broken.document.getElementById('i'));
  assert.deepEqual(names(clicks(broken.sent)), ['I']);
  assert.deepEqual(broken.errors, []);
});

test('middle clicks count, other buttons do not', async () => {
  const { window, document, sent } = await page('<button id="b" data-bl-click="Open">Open</button>');
  const b = document.getElementById('b');
  click(window, b, { type: 'auxclick', button: 1 });
  click(window, b, { type: 'auxclick', button: 2 });
  assert.deepEqual(names(clicks(sent)), ['Open']);
});

test("click events honour the tracker's opt-outs", async () => {
  const { window, document, sent } = await page('<button id="b" data-bl-click="Buy">Buy</button>', {
    navigator: { doNotTrack: '1' },
  });
  click(window, document.getElementById('b'));
  assert.deepEqual(sent, []);
});

test('the module may load before the tracker; a click before the tracker waits in its queue', async () => {
  const before = await open({
    head: CLICKS,
    body: '<button id="b" data-bl-click="Buy">Buy</button>',
  });
  click(before.window, before.document.getElementById('b'));
  assert.deepEqual(names(before.sent), ['pageview', 'Buy']);

  // No tracker at all yet: the click is queued, with no error, for the tracker to send.
  const alone = await open({
    attrs: 'data-domain="shop.test" data-manual',
    url: 'https://shop.test/',
    body: '<button id="b" data-bl-click="Buy">Buy</button>',
  });
  alone.window.eval('delete window.beaconlake');
  const s = alone.document.createElement('script');
  s.src = CLICKS_URL;
  const loaded = new Promise((resolve) => s.addEventListener('load', resolve));
  alone.document.head.appendChild(s);
  await loaded;
  click(alone.window, alone.document.getElementById('b'));
  const queued = JSON.parse(JSON.stringify(Array.from(alone.window.beaconlake.q, (a) => [...a])));
  assert.deepEqual(queued, [['Buy', { props: { label: 'Buy' } }]]);
  assert.deepEqual(alone.errors, []);
});
