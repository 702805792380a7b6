/*
 * Beaconlake's tracking script. One tag installs it:
 *   <script defer data-domain="example.com" src="https://stats.example.com/tracker.js"></script>
 *
 * Attributes on the tag:
 *   data-domain            the site (default: the page's host name)
 *   data-api               the ingest endpoint (default: /api/event on the script's origin)
 *   data-hash              hash-based routing: the fragment is part of the page
 *   data-manual            no automatic pageviews; call beaconlake('pageview', {u: url})
 *   data-outbound          count clicks on links to other hosts
 *   data-downloads         count clicks on file links; optional value: "pdf,zip,..."
 *   data-ignore-dnt        send even when Do Not Track or Global Privacy Control is on
 *   data-allow-local       send from localhost and file: pages
 *   data-allow-automation  send from automated browsers (navigator.webdriver)
 *
 * The payload is Plausible's Events API payload. No cookies, no identifiers, no
 * fingerprinting: the collector derives a daily visitor hash from the request alone.
 * Nothing here may throw into the page: every entry point is wrapped.
 */
(function (w, d, nav, loc) {
  var DOWNLOADS =
    'pdf,xlsx,docx,txt,rtf,csv,exe,key,pps,ppt,pptx,7z,pkg,rar,gz,zip,avi,mov,mp4,mpeg,wmv,midi,mp3,wav,wma,dmg';
  var script = d.currentScript;
  var now = Date.now;
  var endpoint, domain, hashMode, outbound, downloads, blocked, experiment;
  var lastPath, lastUrl, depth, sentDepth, engaged, since;

  function attr(name) {
    return script.getAttribute('data-' + name);
  }

  function has(name) {
    return attr(name) != null;
  }

  // Wraps an entry point so that nothing it does can throw into the page.
  function safe(fn) {
    return function (arg) {
      try {
        fn(arg);
      } catch (e) {}
    };
  }

  function send(name, url, fields) {
    // The page's experiment and variant go with every event, after the event's own props.
    if (experiment) fields.p = Object.assign({}, fields.p, experiment);
    // The per-browser opt-out a site can offer: localStorage.beaconlake_ignore = 'true'.
    try {
      if (blocked || localStorage.beaconlake_ignore == 'true') return;
    } catch (e) {}
    var body = JSON.stringify(
      Object.assign({ n: name, u: url, d: domain, r: d.referrer || null, h: hashMode ? 1 : undefined }, fields)
    );
    if (!(nav.sendBeacon && nav.sendBeacon(endpoint, body))) {
      fetch(endpoint, { method: 'POST', body: body, keepalive: true }).catch(function () {});
    }
  }

  function scrolled() {
    var pct = Math.min(100, Math.round(((w.scrollY + w.innerHeight) / d.documentElement.scrollHeight) * 100));
    if (pct > depth) depth = pct;
  }

  // Engagement of the current page since the last report: deepest scroll, visible time.
  function leave() {
    if (!lastUrl) return;
    if (since) {
      engaged += now() - since;
      since = now();
    }
    scrolled();
    if (engaged > 0 || depth > sentDepth) {
      send('engagement', lastUrl, { sd: depth, e: engaged });
      engaged = 0;
      sentDepth = depth;
    }
  }

  function hide() {
    leave();
    since = 0;
  }

  // window.beaconlake(name, {props, revenue, interactive, u, callback}), and
  // window.beaconlake('experiment', name, variant): the first call of a page load wins.
  function beaconlake(name, options, variant) {
    if (name == 'experiment') {
      return (experiment = experiment || { experiment: options, variant: variant });
    }
    var o = options || {};
    try {
      var url = o.u || loc.href;
      var props = o.props;
      if (name == 'pageview') {
        leave();
        lastUrl = url;
        depth = sentDepth = engaged = 0;
        since = !d.hidden && now();
      }
      if (name == '404') props = Object.assign({ path: loc.pathname }, props);
      send(name, url, { p: props, $: o.revenue, i: o.interactive });
    } catch (e) {}
    if (o.callback) o.callback();
  }

  // Automatic pageviews: the first one, then one per change of path (and hash, if asked).
  function page() {
    var path = loc.pathname + (hashMode ? loc.hash : '');
    if (path != lastPath) {
      lastPath = path;
      beaconlake('pageview');
    }
  }

  // Tagged events: class="beaconlake-event-name=Sign+up beaconlake-event-plan=pro".
  function tagged(el) {
    var name;
    var props = {};
    (el.getAttribute('class') || '').replace(/beaconlake-event-(\S+?)=(\S+)/g, function (_, key, value) {
      value = value.replace(/\+/g, ' ');
      if (key == 'name') name = value;
      else props[key] = value;
    });
    if (name) beaconlake(name, { props: props });
    return name;
  }

  // Clicks (and middle clicks): tagged elements, then file downloads and outbound links.
  // sendBeacon outlives the page, so the navigation is never held up.
  function click(e) {
    if (e.type == 'auxclick' && e.button != 1) return;
    var el = e.target.closest('[class*="beaconlake-event-name="]');
    var link = e.target.closest('a[href]');
    if ((el && el.tagName != 'FORM' && tagged(el)) || !link) return;
    var props = { props: { url: link.href.split(/[?#]/)[0] } };
    if (downloads && downloads.test(link.pathname)) beaconlake('File Download', props);
    else if (outbound && link.host && link.host != loc.host) beaconlake('Outbound Link: Click', props);
  }

  function on(target, type, fn) {
    target.addEventListener(type, safe(fn), true);
  }

  safe(function () {
    endpoint = attr('api') || new URL(script.src).origin + '/api/event';
    domain = attr('domain') || loc.hostname;
    hashMode = has('hash');
    outbound = has('outbound');
    downloads =
      has('downloads') &&
      RegExp('\\.(' + (attr('downloads') || DOWNLOADS).replace(/\s*,\s*/g, '|') + ')$', 'i');
    blocked =
      (!has('ignore-dnt') && (nav.doNotTrack == '1' || nav.globalPrivacyControl)) ||
      (!has('allow-local') && (/^(127\.|\[::1\])|localhost$/.test(loc.hostname) || loc.protocol == 'file:')) ||
      (!has('allow-automation') && nav.webdriver);

    // Calls made before the script loaded: window.beaconlake.q, filled by the stub.
    var queue = (w.beaconlake && w.beaconlake.q) || [];
    w.beaconlake = beaconlake;
    // A queued experiment is set before the first pageview (a second call changes nothing).
    queue.forEach(function (args) {
      if (args[0] == 'experiment') beaconlake.apply(0, args);
    });
    on(d, 'click', click);
    on(d, 'auxclick', click);
    on(d, 'submit', function (e) {
      tagged(e.target);
    });
    on(w, 'scroll', scrolled);
    on(w, 'pagehide', hide);
    on(d, 'visibilitychange', function () {
      if (d.hidden) hide();
      else since = now();
    });
    if (!has('manual')) {
      ['pushState', 'replaceState'].forEach(function (method) {
        var original = history[method];
        history[method] = function () {
          var result = original.apply(this, arguments);
          safe(page)();
          return result;
        };
      });
      on(w, 'popstate', page);
      if (hashMode) on(w, 'hashchange', page);
      page();
    }
    queue.forEach(function (args) {
      beaconlake.apply(0, args);
    });
  })();
})(window, document, navigator, location);
