// The run timeline's small behaviours: tooltips on hover and focus, and the live update
// of a run in progress. No library; every text is set with textContent.
(function () {
  "use strict";
  var tip = document.getElementById("chart-tip");

  function showTip(lines, x, y) {
    if (!tip) return;
    tip.textContent = "";
    lines.forEach(function (line, i) {
      var div = document.createElement("div");
      if (i === 0) div.className = "tip-head";
      div.textContent = line;
      tip.appendChild(div);
    });
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var left = Math.min(x + 14, window.scrollX + document.documentElement.clientWidth - w - 8);
    var top = y - h - 12 < window.scrollY ? y + 18 : y - h - 12;
    tip.style.left = Math.max(window.scrollX + 4, left) + "px";
    tip.style.top = top + "px";
  }

  function hideTip() { if (tip) tip.hidden = true; }

  function turnLines(turn) {
    var row = document.querySelector("table.chart-table tr[data-turn='" + turn + "']");
    var head = document.querySelectorAll("table.chart-table thead th");
    if (!row) return null;
    var lines = ["Turn " + turn], cells = row.querySelectorAll("td");
    for (var i = 1; i < cells.length; i++) {
      var value = cells[i].textContent.trim();
      if (!value || value === "0") continue;
      var n = Number(value);
      if (!isNaN(n) && value !== "") value = n.toLocaleString();
      lines.push(head[i].textContent + ": " + value);
    }
    return lines;
  }

  function markerLines(a) {
    var lines = ["Turn " + a.dataset.turn + ": " + a.dataset.cause];
    if (a.dataset.detail) lines.push(a.dataset.detail);
    // The detail already says how many tokens were missed; without it, say so here.
    lines.push(a.dataset.detail ? "Extra cost " + a.dataset.extra
               : a.dataset.missed + " not read from the cache · extra cost " + a.dataset.extra);
    lines.push("Click to open the call");
    return lines;
  }

  function bind(root) {
    var chart = root.querySelector("svg.timeline-chart");
    if (!chart) return;
    var guide = chart.querySelector(".hover-guide");
    var left = Number(chart.dataset.plotLeft), band = Number(chart.dataset.band);
    var turns = Number(chart.dataset.turns), onMarker = false;

    chart.addEventListener("mousemove", function (ev) {
      if (onMarker || !turns) return;
      var m = chart.getScreenCTM();
      if (!m) return;
      var x = (ev.clientX - m.e) / m.a;
      var turn = Math.floor((x - left) / band) + 1;
      if (turn < 1 || turn > turns) { hideTip(); guide.setAttribute("visibility", "hidden"); return; }
      var cx = left + band * (turn - 0.5);
      guide.setAttribute("x1", cx); guide.setAttribute("x2", cx);
      guide.setAttribute("visibility", "visible");
      var lines = turnLines(turn);
      if (lines) showTip(lines, ev.pageX, ev.pageY);
    });
    chart.addEventListener("mouseleave", function () {
      hideTip(); guide.setAttribute("visibility", "hidden");
    });
    chart.querySelectorAll("a.event-marker").forEach(function (a) {
      function at() {
        var r = a.getBoundingClientRect();
        return [r.left + window.scrollX + r.width / 2, r.top + window.scrollY];
      }
      a.addEventListener("mouseenter", function (ev) {
        onMarker = true; guide.setAttribute("visibility", "hidden");
        showTip(markerLines(a), ev.pageX, ev.pageY);
      });
      a.addEventListener("mouseleave", function () { onMarker = false; hideTip(); });
      a.addEventListener("focus", function () { var p = at(); showTip(markerLines(a), p[0], p[1]); });
      a.addEventListener("blur", hideTip);
      a.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); window.location.href = a.getAttribute("href"); }
      });
    });
  }

  var box = document.getElementById("run-live");
  if (!box) return;
  bind(box);

  // Live update: while the run's last call is recent the server marks the body live;
  // refetch the server-rendered body every few seconds, stop once it says idle.
  var seconds = Number(box.dataset.pollSeconds) || 3, failures = 0, shown = null;
  function isLive() {
    var state = box.querySelector(".live-state");
    return !!state && state.dataset.live === "true";
  }
  function poll() {
    if (!isLive()) return;
    if (document.hidden) { setTimeout(poll, seconds * 1000); return; }
    // The UI token's cookie goes with the request (same-origin credentials): behind
    // TOKENTRAIL_UI_TOKEN the poll is let in like the page was.
    fetch(box.dataset.liveUrl, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) {
        if (r.status === 401) {  // the token's cookie is gone or the token changed
          failures = 5;
          stopped("This page stopped updating: the UI needs its token again. Open it " +
                  "with ?token=... to go on.");
        }
        if (!r.ok) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        failures = 0;
        // Nothing new: leave the page alone (a hovered tooltip, a focused marker).
        if (html === shown) { setTimeout(poll, seconds * 1000); return; }
        shown = html;
        var open = box.querySelector("details.chart-data[open]") !== null;
        var focused = document.activeElement;
        var marker = focused && box.contains(focused) && focused.classList.contains("event-marker")
          ? focused.getAttribute("href") : null;
        hideTip();  // its element is about to be replaced
        box.innerHTML = html;  // our own server-rendered, autoescaped markup
        if (open) { var d = box.querySelector("details.chart-data"); if (d) d.open = true; }
        bind(box);
        if (marker) {  // keyboard users keep their place on the marker they were on
          var again = Array.prototype.find.call(box.querySelectorAll("a.event-marker"),
            function (a) { return a.getAttribute("href") === marker; });
          if (again) again.focus();
        }
        box.dispatchEvent(new CustomEvent("tokentrail:updated"));
        setTimeout(poll, seconds * 1000);
      })
      .catch(function () {
        if (++failures < 5) { setTimeout(poll, seconds * 1000 * failures); return; }
        stopped("This page stopped updating: the server did not answer. Reload to go on.");
      });
  }
  // Say so when the live updates stop before the run went quiet (the badge would
  // otherwise claim a live page that no longer changes).
  function stopped(text) {
    var note = document.getElementById("live-stopped");
    if (note && note.hidden) { note.textContent = text; note.hidden = false; }
    Array.prototype.forEach.call(box.querySelectorAll(".live-badge"),
      function (b) { b.hidden = true; });
  }
  if (isLive()) setTimeout(poll, seconds * 1000);
})();
