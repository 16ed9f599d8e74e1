// closedloop reports: draw the Plotly figures of data-figure attributes; refresh while a run
// is active.
"use strict";

(function () {
  function draw() {
    if (!window.Plotly) {
      return;
    }
    var nodes = document.querySelectorAll("[data-figure]");
    Array.prototype.forEach.call(nodes, function (node) {
      var figure;
      try {
        figure = JSON.parse(node.getAttribute("data-figure"));
      } catch (err) {
        return;
      }
      window.Plotly.newPlot(node, figure.data || [], figure.layout || {}, {
        responsive: true,
        displaylogo: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d"],
      });
    });
  }

  function refresh() {
    var node = document.querySelector("[data-refresh-seconds]");
    if (!node) {
      return;
    }
    var seconds = parseInt(node.getAttribute("data-refresh-seconds"), 10) || 3;
    window.setTimeout(function () {
      window.location.reload();
    }, seconds * 1000);
  }

  function start() {
    draw();
    refresh();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
