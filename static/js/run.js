// A run's page, loaded while the run was not over (templates/jobs/_run.html):
// when job.js sees it end, what it changed and the form that saves it as an
// image are fetched and drawn in place, as a reload would show them.
(function () {
  "use strict";

  const root = document.getElementById("job");
  if (!root) return;

  root.addEventListener("job-ended", async () => {
    const ended = document.getElementById("run-ended");
    if (!ended) return;
    const url = new URL(location.href);
    url.search = "?fragment=run-ended";
    url.hash = "";
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(String(response.status));
      const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = parsed.getElementById("run-ended");
      if (fresh) ended.replaceWith(document.adoptNode(fresh));
    } catch (error) {
      const note = document.createElement("p");
      note.className = "subtle";
      note.textContent = "The run ended: reload the page to see what it changed.";
      ended.replaceChildren(note);
    }
  }, { once: true });
})();
