/* The workbench: draw the charts of the boards as htmx brings them in (Chart.js as bundled by unfold).
   The canvases use their own class, so unfold's renderCharts (run once on load) never draws them twice. */
(function () {
  "use strict";

  function color(value) {
    if (typeof value === "string" && value.indexOf("var(") === 0) {
      var name = value.slice(4, -1);
      return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#6366f1";
    }
    return value;
  }

  function draw(root) {
    if (typeof Chart === "undefined" || !root || !root.querySelectorAll) {
      return;
    }
    root.querySelectorAll("canvas.workbench-chart-canvas:not([data-drawn])").forEach(function (canvas) {
      canvas.setAttribute("data-drawn", "1");
      var data = JSON.parse(canvas.getAttribute("data-value"));
      data.datasets.forEach(function (dataset) {
        dataset.backgroundColor = Array.isArray(dataset.backgroundColor)
          ? dataset.backgroundColor.map(color) : color(dataset.backgroundColor);
      });
      var type = canvas.getAttribute("data-type") || "bar";
      var round = type === "doughnut" || type === "pie";
      var horizontal = canvas.getAttribute("data-horizontal") === "1";
      var axis = {ticks: {color: "#9ca3af"}, grid: {display: false}, border: {display: false}};
      new Chart(canvas.getContext("2d"), {
        type: type,
        data: data,
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: horizontal ? "y" : "x",
          plugins: {legend: {display: round || data.datasets.length > 1, position: round ? "right" : "top",
                             labels: {boxWidth: 10, color: "#9ca3af"}}},
          scales: round ? {} : {x: axis, y: Object.assign({beginAtZero: true}, axis)}
        }
      });
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
})();
