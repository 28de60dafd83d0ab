/*
 * Shoal page-side event snippet: a `window._ppmatc` queue, as in PPMessage's page code.
 *
 * On a page of your site (an origin the application allows), with the application's publishable key:
 *
 *   <script>
 *     window.shoalSettings = { key: "shp_…", ent_user_id: "u-1001" };   // or mobile / email
 *     window._ppmatc = window._ppmatc || [];
 *   </script>
 *   <script src="https://crm.example.com/static/events/shoal-events.js" async></script>
 *
 * Then push events at any time, before or after the script has loaded:
 *
 *   window._ppmatc.push({ track_event: { event_name: "click", event_uuid: "…",
 *                                        event_data: { x: 10, y: 20 },
 *                                        event_timestamp: Math.round(Date.now() / 1000) } });
 *
 * The queue is drained every second (and at once after a push, and when the page is hidden) to
 * POST /api/v1/events/collect on the server the script came from, in batches of at most 100, as text/plain
 * (no CORS preflight). A batch that does not reach the server is kept and sent again with the same ids:
 * the server counts an event once however often it arrives. The key may only send the event types and
 * from the origins chosen for it. Nothing is fetched from anywhere else.
 */
(function () {
  "use strict";
  var w = window;
  if (w.__shoalEvents) { return; }
  var script = document.currentScript;
  var settings = w.shoalSettings || {};
  var endpoint = settings.endpoint || (script && script.src ? new URL(script.src).origin : "") ;
  var url = endpoint.replace(/\/+$/, "") + "/api/v1/events/collect";
  var pending = [];
  var sending = false;
  var MAX_BATCH = 100;

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) { return w.crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    });
  }

  function customer() {
    var s = w.shoalSettings || settings;
    var out = {};
    ["ent_user_id", "mobile", "email"].forEach(function (k) { if (s[k]) { out[k] = String(s[k]); } });
    return out;
  }

  function toEvent(item) {
    var t = item && (item.track_event || item);
    if (!t || !(t.event_name || t.event)) { return null; }
    var stamp = t.event_timestamp;
    var when = typeof stamp === "number" ? new Date(stamp < 1e12 ? stamp * 1000 : stamp) : (stamp ? new Date(stamp) : new Date());
    if (isNaN(when.getTime())) { when = new Date(); }
    return {
      event: String(t.event_name || t.event),
      id: String(t.event_uuid || t.id || uuid()),
      timestamp: when.toISOString(),
      customer: t.customer || customer(),
      data: t.event_data || t.data || {}
    };
  }

  function drain() {
    var queue = w._ppmatc;
    while (queue && queue.length) {
      var ev = toEvent(queue.shift());
      if (ev) { pending.push(ev); }
    }
  }

  function flush(useBeacon) {
    drain();
    var key = (w.shoalSettings || settings).key;
    if (sending || !pending.length || !key) { return; }
    var batch = pending.slice(0, MAX_BATCH);
    var body = JSON.stringify({ key: key, events: batch });
    if (useBeacon && navigator.sendBeacon) {
      if (navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) { pending.splice(0, batch.length); }
      return;
    }
    sending = true;
    fetch(url, { method: "POST", body: body, headers: { "Content-Type": "text/plain" }, mode: "cors",
                 credentials: "omit", keepalive: true })
      .then(function (resp) {
        // accepted, duplicate or refused (recorded on the server): done with them; 429 / 5xx: try again
        if (resp.status < 500 && resp.status !== 429) { pending.splice(0, batch.length); }
      })
      .catch(function () { /* offline: kept for the next round */ })
      .then(function () { sending = false; if (pending.length >= MAX_BATCH) { flush(false); } });
  }

  // A queue that sends soon after each push, keeping what was queued before the script loaded.
  var before = Array.isArray(w._ppmatc) ? w._ppmatc : [];
  var queue = [];
  queue.push = function () {
    Array.prototype.push.apply(queue, arguments);
    setTimeout(function () { flush(false); }, 50);
    return queue.length;
  };
  before.forEach(function (item) { queue.push(item); });
  w._ppmatc = queue;
  w.__shoalEvents = { flush: flush };
  setInterval(function () { flush(false); }, 1000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(true); }
  });
  flush(false);
})();
