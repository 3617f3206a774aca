// ioaccess: the numbers page's bar charts (vendored Chart.js). No inline script anywhere
// (strict CSP): each <canvas data-chart="ID"> reads its figures from the json_script element
// ID, which the server wrote from the same rows as the table beside it. Without JavaScript, or
// if Chart.js fails to load, the tables carry every figure.
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") {
    return;
  }
  var Chart = window.Chart;
  var style = window.getComputedStyle(document.documentElement);
  var brand = style.getPropertyValue("--brand").trim() || "#0b4f8a";
  var ink = style.getPropertyValue("--ink").trim() || "#111827";

  Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 16;
  Chart.defaults.color = ink;

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var valueAxis = {
      beginAtZero: true,
      title: { display: true, text: data.axis },
      ticks: { precision: 0 }
    };
    if (data.percent) {
      valueAxis.max = 100;
    }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: data.axis, data: data.values, backgroundColor: brand }]
      },
      options: {
        indexAxis: data.horizontal ? "y" : "x",
        // Figures that move are harder to read and to print.
        animation: false,
        responsive: true,
        // Height from the number of bars, so that no CSS height is needed: a row of text per
        // bar when they lie flat, a landscape box when they stand.
        aspectRatio: data.horizontal
          ? Math.max(1, (canvas.parentNode.clientWidth || 800) / (90 + 40 * data.labels.length))
          : 2.5,
        plugins: { legend: { display: false } },
        scales: data.horizontal ? { x: valueAxis } : { y: valueAxis }
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
})();
