// closedloop: the duplicate review page. Draws the waterfall chart from the JSON in the
// chart's data-figure attribute (the CSP forbids inline scripts) and adds keyboard shortcuts: a accept, r reject,
// n not a duplicate, j next pair. The page works without this file.
"use strict";

(function () {
  function drawWaterfall() {
    var holder = document.getElementById("waterfall");
    var data = holder && holder.getAttribute("data-figure");
    if (!data || !window.Plotly) {
      return;
    }
    var figure = JSON.parse(data);
    window.Plotly.newPlot(holder, figure.data, figure.layout, {
      displayModeBar: false,
      responsive: true,
    });
  }

  function shortcuts() {
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) {
        return;
      }
      var tag = (event.target && event.target.tagName) || "";
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
        return;
      }
      var target = document.querySelector('[data-key="' + event.key + '"]');
      if (!target) {
        return;
      }
      event.preventDefault();
      target.click();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawWaterfall();
    shortcuts();
  });
})();
