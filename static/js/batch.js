// A rebuild batch's page follows its items while the batch runs: it asks for
// the table again (the same server template) every two seconds, and stops once
// the batch has ended.
(function () {
  "use strict";
  const PERIOD_MS = 2000;

  function current() {
    return document.getElementById("batch-items");
  }

  async function refresh() {
    const shown = current();
    if (!shown || shown.dataset.state !== "running") return;
    try {
      const response = await fetch(`${window.location.pathname}?fragment=items`, {credentials: "same-origin"});
      if (response.ok) {
        const holder = document.createElement("div");
        holder.innerHTML = await response.text();
        const fresh = holder.querySelector("#batch-items");
        if (fresh) shown.replaceWith(fresh);
      }
    } catch (error) {
      // The server is restarting or the network dropped: the next tick asks again.
    }
    window.setTimeout(refresh, PERIOD_MS);
  }

  window.setTimeout(refresh, PERIOD_MS);
})();
