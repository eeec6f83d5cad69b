// promptpulse live pages: a page whose <main> has data-live listens to that stream of
// server-sent events; when it says the usage shown changed, the page fetches itself again
// (data-live-page, through its normal route) and patches what differs in place: figures,
// tables and the charts' data. What a person is typing, the charts' own drawing and the
// listeners app.js set are kept. One stream per page, closed while the tab is hidden; the
// browser reconnects by itself after a dropped line, and after a refused one this script
// tries again later, waiting longer each time. No inline script: the CSP allows none.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var eventsUrl = main.getAttribute("data-live");
  var pageUrl = main.getAttribute("data-live-page");
  var source = null, opened = false, busy = false, again = false, wait = 5000, timer = null;

  function isField(el) {
    return el.nodeName === "INPUT" || el.nodeName === "SELECT" || el.nodeName === "TEXTAREA";
  }

  // make `old` look like `now`, keeping the elements that stay (and their listeners)
  function morph(old, now) {
    if (old.nodeType !== now.nodeType || old.nodeName !== now.nodeName) {
      old.parentNode.replaceChild(document.importNode(now, true), old);
      return;
    }
    if (old.nodeType === 3 || old.nodeType === 8) {
      if (old.nodeValue !== now.nodeValue) old.nodeValue = now.nodeValue;
      return;
    }
    if (old.nodeType !== 1 || isField(old)) return;
    if (old.classList.contains("plot")) return; // Plotly's; its data is updated below
    Array.prototype.slice.call(old.attributes).forEach(function (a) {
      if (!now.hasAttribute(a.name) && !/^data-(drawn|live)/.test(a.name)) old.removeAttribute(a.name);
    });
    Array.prototype.slice.call(now.attributes).forEach(function (a) {
      // data-now stays the first page's: app.js counts down from it and its load time
      if (a.name === "data-now" || old.getAttribute(a.name) === a.value) return;
      old.setAttribute(a.name, a.value);
    });
    var olds = Array.prototype.slice.call(old.childNodes);
    var nows = Array.prototype.slice.call(now.childNodes);
    for (var i = 0; i < nows.length; i++) {
      if (i < olds.length) morph(olds[i], nows[i]);
      else old.appendChild(document.importNode(nows[i], true));
    }
    for (var j = nows.length; j < olds.length; j++) old.removeChild(olds[j]);
  }

  // the charts keep their layout (colours, size) and take the new data
  function charts(doc) {
    var fresh = doc.getElementById("charts"), held = document.getElementById("charts");
    if (!fresh) return true;
    var specs = JSON.parse(fresh.textContent);
    if (held) held.textContent = fresh.textContent; // what app.js redraws from
    for (var i = 0; i < specs.length; i++) {
      var el = document.getElementById(specs[i].id);
      if (!el) continue;
      if (!window.Plotly || !el.layout) return false; // a chart that was never drawn
      window.Plotly.react(el, specs[i].data, el.layout);
    }
    return true;
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(pageUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error("page " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var now = doc.querySelector("main");
        if (!now) return;
        var charted = !!doc.getElementById("charts") === !!document.getElementById("charts");
        morph(main, now);
        if (!charted || !charts(doc)) { window.location.reload(); return; }
        main.setAttribute("data-live-refreshed", String(Number(main.getAttribute("data-live-refreshed") || 0) + 1));
      })
      .catch(function () { close(); }) // logged out, or the page is gone: stop listening
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function open() {
    if (source || document.hidden) return;
    source = new EventSource(eventsUrl);
    source.addEventListener("ready", function () {
      wait = 5000;
      main.setAttribute("data-live-open", "1");
      if (opened) refresh(); // back after a gap: what changed meanwhile
      opened = true;
    });
    source.addEventListener("usage", refresh);
    source.addEventListener("error", function () {
      main.removeAttribute("data-live-open");
      if (source && source.readyState === EventSource.CLOSED) {
        // refused (logged out, a server closing): try again later, less and less often
        source = null;
        clearTimeout(timer);
        timer = setTimeout(open, wait);
        wait = Math.min(wait * 2, 300000);
      }
    });
  }

  function close() {
    clearTimeout(timer);
    if (source) { source.close(); source = null; }
    main.removeAttribute("data-live-open");
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) close(); else open();
  });
  window.addEventListener("pagehide", close);
  open();
})();
