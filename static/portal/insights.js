// Draws each weekly outcome chart of the Insights pages from the JSON next to its canvas.
// The same numbers are in the table under each chart, so nothing depends on this script.
(function () {
  "use strict";
  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }
  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.weeks);
    if (!source || typeof Chart === "undefined") return;
    var weeks = JSON.parse(source.textContent);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: weeks.map(function (w) { return w.label; }),
        datasets: [
          { label: "Done on time", data: weeks.map(function (w) { return w.on_time; }), backgroundColor: css("--ok", "#2f855a") },
          { label: "Done late", data: weeks.map(function (w) { return w.late; }), backgroundColor: css("--warn", "#b7791f") },
          { label: "Missed", data: weeks.map(function (w) { return w.missed; }), backgroundColor: css("--danger", "#c53030") }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-weeks]").forEach(draw);
  });
})();
