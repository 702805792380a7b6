'use strict';
// beaconlake('experiment', name, variant): a pair attached to every event of the page load.
const test = require('node:test');
const assert = require('node:assert/strict');
const { open, names, click, setHidden, STUB, CLICKS_URL } = require('./harness');

const AB = { experiment: 'checkout-test', variant: 'B' };

test('an experiment set before the tracker loads goes with the first pageview and every event', async () => {
  const { window, document, sent } = await open({
    head: `<script>${STUB};beaconlake('Promo Seen',{props:{slot:'hero'}});beaconlake('experiment','checkout-test','B')</script>`,
    after: `<script src="${CLICKS_URL}"></script>`,
    body: '<button id="buy" data-bl-click="Buy">Buy</button>',
  });
  window.beaconlake('Purchase', { props: { plan: 'pro' }, revenue: { amount: 9, currency: 'EUR' } });
  click(window, document.getElementById('buy'));
  window.history.pushState({}, '', '/thanks');
  setHidden(window, true);
  assert.deepEqual(names(sent), ['pageview', 'Promo Seen', 'Purchase', 'Buy', 'engagement', 'pageview', 'engagement']);
  assert.deepEqual(
    sent.map((b) => b.p),
    [AB, { slot: 'hero', ...AB }, { plan: 'pro', ...AB }, { label: 'Buy', ...AB }, AB, AB, AB]
  );
  assert.deepEqual(sent[2].$, { amount: 9, currency: 'EUR' });
});

test('set after the pageview, it goes with the events that follow; the first call wins', async () => {
  const { window, sent } = await open();
  const props = { plan: 'pro' };
  window.beaconlake('experiment', 'checkout-test', 'B');
  window.beaconlake('experiment', 'checkout-test', 'A');
  window.beaconlake('experiment', 'other-test', 'X');
  window.beaconlake('Signup', { props });
  assert.deepEqual(names(sent), ['pageview', 'Signup']);
  assert.equal(sent[0].p, undefined);
  assert.deepEqual(sent[1].p, { plan: 'pro', ...AB });
  assert.deepEqual(props, { plan: 'pro' }, "the caller's props object is left alone");
});

test('the experiment pair wins over event props of the same name; no experiment, no props', async () => {
  const { window, sent } = await open();
  window.beaconlake('Signup');
  window.beaconlake('experiment', 'checkout-test', 'B');
  window.beaconlake('Signup', { props: { variant: 'mine', experiment: 'mine' } });
  assert.equal(sent[1].p, undefined);
  assert.deepEqual(sent[2].p, AB);
});
