// The insights page's charts (Chart.js, served from node_modules). The numbers come from the
// page's json_script block; every chart has a table of them under it, and none relies on
// colour alone (legends name each series; lines differ by dash and point shape).
(function () {
  "use strict";
  var source = document.getElementById("insights-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  var BLUE = "#1f5fa8";
  var ORANGE = "#b35900";
  var GREY = "#6b6f76";
  var PURPLE = "#6a3d9a";

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  draw("chart-weeks", {
    data: {
      labels: data.weeks.labels,
      datasets: [
        { type: "bar", label: "Incidents", data: data.weeks.incidents, backgroundColor: "#c9d6e8", yAxisID: "count" },
        { type: "line", label: "MTTA (minutes)", data: data.weeks.mtta, borderColor: BLUE, pointStyle: "circle", yAxisID: "minutes", spanGaps: true },
        { type: "line", label: "MTTR (minutes)", data: data.weeks.mttr, borderColor: ORANGE, borderDash: [6, 4], pointStyle: "triangle", pointRadius: 5, yAxisID: "minutes", spanGaps: true }
      ]
    },
    options: {
      plugins: { legend: { labels: { usePointStyle: true } } },
      scales: {
        count: { position: "left", beginAtZero: true, title: { display: true, text: "Incidents" } },
        minutes: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "Minutes" } }
      }
    }
  });

  draw("chart-people", {
    type: "bar",
    data: {
      labels: data.people.labels,
      datasets: [
        { label: "Business hours", data: data.people.business, backgroundColor: "#9db7d5" },
        { label: "Off hours", data: data.people.off, backgroundColor: ORANGE },
        { label: "Sleep hours", data: data.people.sleep, backgroundColor: PURPLE }
      ]
    },
    options: {
      indexAxis: "y",
      scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } }
    }
  });

  draw("chart-tiers", {
    type: "bar",
    data: {
      labels: data.tiers.labels,
      datasets: [
        { label: "Pages", data: data.tiers.pages, backgroundColor: BLUE },
        { label: "Acknowledged", data: data.tiers.acknowledged, backgroundColor: GREY },
        { label: "Ended with a veteran", data: data.tiers.ended_with_veteran, backgroundColor: ORANGE }
      ]
    },
    options: { scales: { y: { beginAtZero: true } } }
  });
})();
