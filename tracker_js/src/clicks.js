/*
 * Beaconlake's optional click-tracking module, loaded next to the tracker:
 *   <script defer data-domain="example.com" src="https://stats.example.com/tracker.js"></script>
 *   <script defer src="https://stats.example.com/clicks.js" data-clicks="button.buy, a.cta"></script>
 *
 * A click on an element with data-bl-click="Name" (or inside one) sends the custom event
 * "Name"; a click on an element matching the selector list in data-clicks (on either script
 * tag) sends "Click". Both carry the prop `label`: the element's data-bl-label, or else its
 * text, trimmed, whitespace collapsed, at most 100 characters. Events go through
 * window.beaconlake, so they honour its opt-outs and carry the page's experiment; a click
 * before the tracker has loaded waits in its queue. Nothing here may throw into the page.
 */
(function (w, d) {
  var selector = '[data-bl-click]';
  try {
    var tag = d.querySelector('script[data-clicks]');
    var listed = tag && tag.getAttribute('data-clicks').trim();
    if (listed) {
      listed = selector + ',' + listed;
      // Throws on a list the browser cannot parse: then only data-bl-click counts.
      d.querySelector(listed);
      selector = listed;
    }
  } catch (err) {}

  function click(e) {
    try {
      if (e.type == 'auxclick' && e.button != 1) return;
      var el = e.target.closest(selector);
      if (!el) return;
      var name = el.getAttribute('data-bl-click');
      var label = el.getAttribute('data-bl-label');
      if (label == null) {
        label = Array.from(el.textContent.replace(/\s+/g, ' ').trim()).slice(0, 100).join('').trim();
      }
      var track =
        w.beaconlake ||
        (w.beaconlake = function () {
          (w.beaconlake.q = w.beaconlake.q || []).push(arguments);
        });
      track(name || 'Click', { props: label ? { label: label } : {} });
    } catch (err) {}
  }

  d.addEventListener('click', click, true);
  d.addEventListener('auxclick', click, true);
})(window, document);
