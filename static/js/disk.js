// The Disk page's plots: per engine, each series of its samples (the json_script
// the template writes, {"at": [epoch seconds], "<kind>_size": [...], ...}) as a
// uPlot time plot of size and reclaimable bytes. The table beside each plot
// carries the same figures for those who do not see it.
(function () {
  "use strict";

  const humanSize = window.dockyardHumanSize; // sizes.js

  function draw(chart, columns) {
    const key = chart.dataset.series;
    const data = [columns.at, columns[key + "_size"], columns[key + "_reclaimable"]];
    if (!columns.at || !data[1] || !data[2]) return;
    const width = Math.max(chart.clientWidth, 280);
    const options = {
      width: width,
      height: 220,
      // Bytes from zero: a change reads at its true scale, and the ticks differ at three digits.
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 100] } },
      axes: [{}, { values: (u, ticks) => ticks.map(humanSize), size: 70 }],
      series: [
        {},
        { label: "Size", stroke: "#1f5fa8", width: 2, value: (u, v) => humanSize(v) },
        { label: chart.dataset.secondLabel || "Reclaimable", stroke: "#b35c00", width: 2, dash: [6, 4],
          value: (u, v) => humanSize(v) },
      ],
    };
    const plot = new uPlot(options, data, chart);
    chart.dataset.points = String(columns.at.length);
    window.addEventListener("resize", () => plot.setSize({ width: Math.max(chart.clientWidth, 280), height: 220 }));
  }

  const parsed = {};
  document.querySelectorAll(".disk-chart").forEach((chart) => {
    const source = chart.dataset.source;
    if (!(source in parsed)) {
      const element = document.getElementById(source);
      parsed[source] = element ? JSON.parse(element.textContent) : null;
    }
    if (parsed[source]) draw(chart, parsed[source]);
  });
})();
