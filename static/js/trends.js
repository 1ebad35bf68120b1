// A repository's trends (the json_script "repository-trends": {"builds": {at, job, duration, cache_share,
// layers}, "moves": {at, tag, image_id, size}}), one uPlot per series, drawn as points; a click on a build's
// point opens its job. The tables below carry the same figures for those who do not see the plots.
(function () {
  "use strict";

  const humanSize = window.dockyardHumanSize; // sizes.js

  const FORMATS = {
    bytes: humanSize,
    seconds: (v) => (v === null || v === undefined ? "" : Number(v.toPrecision(3)) + " s"),
    share: (v) => (v === null || v === undefined ? "" : Math.round(v * 100) + " %"),
    count: (v) => (v === null || v === undefined ? "" : String(v)),
  };

  function draw(chart, columns) {
    const key = chart.dataset.key;
    const format = FORMATS[chart.dataset.unit];
    if (!columns || !columns.at || !columns.at.length) return;
    const width = Math.max(chart.clientWidth, 280);
    const options = {
      width: width,
      height: 200,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { values: (u, ticks) => ticks.map(format), size: 70 }],
      series: [{}, { label: chart.dataset.title, stroke: "#1f5fa8", width: 1, value: (u, v) => format(v),
                     points: { show: true, size: 7 } }],
    };
    const plot = new uPlot(options, [columns.at, columns[key]], chart);
    chart.dataset.points = String(columns.at.length);
    if (columns.job) {
      plot.over.addEventListener("click", () => {
        const index = plot.cursor.idx;
        if (index !== null && index !== undefined) {
          window.location.href = chart.dataset.jobUrl.replace(/\/0\/$/, "/" + columns.job[index] + "/");
        }
      });
    }
    window.addEventListener("resize", () => plot.setSize({ width: Math.max(chart.clientWidth, 280), height: 200 }));
  }

  const source = document.getElementById("repository-trends");
  if (!source) return;
  const series = JSON.parse(source.textContent);
  document.querySelectorAll(".trend-chart").forEach((chart) => draw(chart, series[chart.dataset.group]));
})();
