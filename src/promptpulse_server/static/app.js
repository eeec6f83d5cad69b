// promptpulse dashboard: the theme toggle, filters that apply themselves, Plotly charts drawn
// from the page's JSON, countdowns to a limit's reset, tables sorted by a click and forms that
// ask before they act (no inline scripts: the Content-Security-Policy allows none).
(function () {
  "use strict";
  var root = document.documentElement;
  // the theme: the server sets <html data-theme> from the pp_theme cookie before the first
  // paint (dark when none); the toggle goes dark, light, system (the CSS follows the device)
  var THEMES = {
    dark: ["light", "Dark theme (click for light)"],
    light: ["system", "Light theme (click to follow the system)"],
    system: ["dark", "Theme follows the system (click for dark)"],
  };
  function setTheme(toggle, mode) {
    root.setAttribute("data-theme", mode);
    document.querySelector("meta[name=color-scheme]").content = mode === "system" ? "dark light" : mode;
    toggle.title = THEMES[mode][1];
    toggle.setAttribute("aria-label", THEMES[mode][1]);
    document.cookie = "pp_theme=" + mode + "; path=/; max-age=31536000; samesite=lax";
    draw();
  }

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
      legend: { orientation: "h", x: 0, y: -0.12, yanchor: "top", font: { color: muted } },
      hoverlabel: { bgcolor: css("--panel-2"), bordercolor: line, font: { color: text } },
      xaxis: { gridcolor: line, linecolor: line, zerolinecolor: line, automargin: true },
      yaxis: { gridcolor: line, linecolor: line, zerolinecolor: line, automargin: true },
      height: 320,
    };
    var own = spec.layout || {};
    Object.keys(own).forEach(function (k) {
      base[k] = (typeof own[k] === "object" && base[k]) ? Object.assign({}, base[k], own[k]) : own[k];
    });
    if (spec.data.length && spec.data[0].type === "pie") {
      base.margin = { l: 2, r: 2, t: 2, b: 2 };
    }
    if (spec.data.length && spec.data[0].type === "heatmap") {
      base.margin = { l: 40, r: 8, t: 4, b: 40 };
    }
    if (window.innerWidth < 600) {  // a phone: the legend under the chart, smaller ticks
      base.margin.l = Math.min(base.margin.l, 44);
      base.font.size = 11;
    }
    return base;
  }

  function draw() {
    var holder = document.getElementById("charts");
    if (!holder || !window.Plotly) return;
    var specs = JSON.parse(holder.textContent);
    specs.forEach(function (spec) {
      var el = document.getElementById(spec.id);
      if (!el || !spec.data.length) return;
      window.Plotly.react(el, spec.data, layoutFor(spec), {
        responsive: true, displaylogo: false, displayModeBar: false,
      });
      el.setAttribute("data-drawn", "1");
    });
  }

  // "3h12m", as the server writes it (promptpulse.limits.duration)
  function duration(ms) {
    var minutes = Math.max(0, Math.floor(ms / 60000));
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) return days + "d" + hours + "h";
    if (hours) return hours + "h" + (mins < 10 ? "0" : "") + mins + "m";
    return mins + "m";
  }

  // counted from the server's now (data-now), so the browser's own clock does not matter
  var loaded = Date.now();
  function countdowns() {
    var gone = Date.now() - loaded;
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Number(el.getAttribute("data-countdown")) - Number(el.getAttribute("data-now")) - gone;
      el.textContent = left > 0 ? duration(left) : "now";
    });
  }

  function sortable(table) {
    table.querySelectorAll("th[data-sort] button").forEach(function (button) {
      button.addEventListener("click", function () {
        var th = button.parentElement;
        var col = Array.prototype.indexOf.call(th.parentElement.children, th);
        var numeric = th.getAttribute("data-sort") === "num";
        var down = th.getAttribute("aria-sort") !== "descending";
        table.querySelectorAll("th[aria-sort]").forEach(function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-value"), y = b.cells[col].getAttribute("data-value");
          var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
          return down ? -order : order;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw();
    countdowns();
    setInterval(countdowns, 30000);
    document.querySelectorAll("table.sortable").forEach(sortable);
    var toggle = document.querySelector("[data-theme-toggle]");
    if (toggle) {
      toggle.addEventListener("click", function () {
        setTheme(toggle, (THEMES[root.getAttribute("data-theme")] || THEMES.dark)[0]);
      });
    }
    if (window.matchMedia) {  // following the system: the charts take its new colours too
      window.matchMedia("(prefers-color-scheme: light)").addEventListener("change", function () {
        if (root.getAttribute("data-theme") === "system") draw();
      });
    }
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
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
