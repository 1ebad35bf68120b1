// Byte counts as images/sizes.py prints them (decimal, three significant digits), for the pages'
// plots (disk.js, trends.js): window.dockyardHumanSize.
(function () {
  "use strict";

  const UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];

  window.dockyardHumanSize = function (bytes) {
    if (bytes === null || bytes === undefined) return "";
    let value = bytes;
    let unit = 0;
    while (value >= 1000 && unit < UNITS.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return Number(value.toPrecision(3)) + UNITS[unit];
  };
})();
