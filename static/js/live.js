// Pages that follow the engine: when an image event arrives on /ws/images/,
// fetch this page again and swap in its [data-live] parts, keeping ticked boxes.
(function () {
  "use strict";

  const anchor = document.getElementById("live");
  if (!anchor || !anchor.dataset.wsUrl) return;
  const DEBOUNCE_MS = 250;
  let timer = null;
  let retryMs = 500;
  let refused = false;

  function refresh() {
    timer = null;
    fetch(window.location.href, { headers: { "X-Requested-With": "live" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html");
        const ticked = new Set(
          Array.from(document.querySelectorAll("[data-live] input[type=checkbox]:checked"), (box) => box.value)
        );
        document.querySelectorAll("[data-live][id]").forEach((old) => {
          const replacement = fresh.getElementById(old.id);
          if (replacement) old.replaceWith(document.adoptNode(replacement));
        });
        document.querySelectorAll("[data-live] input[type=checkbox]").forEach((box) => {
          box.checked = ticked.has(box.value);
        });
        document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || 0) + 1);
      })
      .catch(() => {}); // the next event tries again
  }

  function connect() {
    const socket = new WebSocket(anchor.dataset.wsUrl);
    socket.addEventListener("open", () => {
      retryMs = 500;
      document.body.dataset.live = "connected";
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "refused") {
        // Too many live pages open for this person: say so, and stop following.
        refused = true;
        const note = document.createElement("p");
        note.className = "error stream-refused";
        note.textContent = message.message;
        anchor.after(note);
        return;
      }
      if (timer === null) timer = setTimeout(refresh, DEBOUNCE_MS);
    });
    socket.addEventListener("close", () => {
      document.body.dataset.live = "closed";
      if (refused) return;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    });
  }

  connect();
})();
