// promptpulse dashboard: the theme, filters that apply themselves, and Plotly charts drawn from
// the page's JSON (no inline scripts: the Content-Security-Policy allows none).
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("pp-theme"); } catch (e) { /* storage may be off */ }
  var prefersLight = window.matchMedia && window.matchMedia("(prefers-color-scheme: light)").matches;
  root.setAttribute("data-theme", saved || (prefersLight ? "light" : "dark"));

  function css(name) {
    return getComputedStyle(root).getPropertyValue(name).trim();
  }

  function layoutFor(spec) {
    var text = css("--text"), muted = css("--muted"), line = css("--line");
    var base = {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: text, family: "system-ui, sans-serif", size: 12 },
      margin: { l: 56, r: 16, t: 8, b: 40 },
      legend: { orientation: "h", y: -0.18, font: { color: muted } },
      hoverlabel: { bgcolor: css("--panel-2"), bordercolor: line, font: { color: text } },
      xaxis: { gridcolor: line, linecolor: line, zerolinecolor: line },
      yaxis: { gridcolor: line, linecolor: line, zerolinecolor: line },
      height: 320,
    };
    var own = spec.layout || {};
    Object.keys(own).forEach(function (k) {
      base[k] = (typeof own[k] === "object" && base[k]) ? Object.assign({}, base[k], own[k]) : own[k];
    });
    if (spec.data.length && spec.data[0].type === "pie") {
      base.margin = { l: 8, r: 8, t: 8, b: 8 };
      base.legend = { orientation: "h", y: -0.05, font: { color: muted } };
    }
    return base;
  }

  function draw() {
    var holder = document.getElementById("charts");
    if (!holder || !window.Plotly) return;
    var specs = JSON.parse(holder.textContent);
    specs.forEach(function (spec) {
      var el = document.getElementById(spec.id);
      if (!el) return;
      window.Plotly.react(el, spec.data, layoutFor(spec), {
        responsive: true, displaylogo: false, displayModeBar: false,
      });
      el.setAttribute("data-drawn", "1");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw();
    var toggle = document.querySelector("[data-theme-toggle]");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var next = root.getAttribute("data-theme") === "light" ? "dark" : "light";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("pp-theme", next); } catch (e) { /* ignore */ }
        draw();
      });
    }
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      var period = form.querySelector("select[name=period]");
      var ranges = form.querySelectorAll(".range input");
      function showRanges() {
        var custom = period && period.value === "custom";
        ranges.forEach(function (r) { r.disabled = !custom; r.parentElement.hidden = !custom; });
      }
      showRanges();
      form.querySelectorAll("select").forEach(function (s) {
        s.addEventListener("change", function () {
          showRanges();
          if (s === period && period.value === "custom") return; // wait for the dates
          form.requestSubmit();
        });
      });
      ranges.forEach(function (r) {
        r.addEventListener("change", function () { form.requestSubmit(); });
      });
    });
  });
})();
