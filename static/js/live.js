// Pages that follow the engine: when an image event arrives on /ws/images/
// (socket.js), fetch this page's live parts (?fragment=live: the [data-live]
// elements, rendered by the templates the page includes) and swap them in,
// keeping ticked boxes.
(function () {
  "use strict";

  const anchor = document.getElementById("live");
  if (!anchor || !anchor.dataset.wsUrl) return;
  const DEBOUNCE_MS = 250;
  let timer = null;
  let refused = false;

  function fragmentUrl() {
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", "live");
    return url.href;
  }

  function refresh() {
    timer = null;
    fetch(fragmentUrl(), { credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        // A template's content is inert: nothing in it runs or loads.
        const fresh = document.createElement("template");
        fresh.innerHTML = html;
        const ticked = new Set(
          Array.from(document.querySelectorAll("[data-live] input[type=checkbox]:checked"), (box) => box.value)
        );
        document.querySelectorAll("[data-live][id]").forEach((old) => {
          const replacement = fresh.content.getElementById(old.id);
          if (replacement) old.replaceWith(document.importNode(replacement, true));
        });
        document.querySelectorAll("[data-live] input[type=checkbox]").forEach((box) => {
          box.checked = ticked.has(box.value);
        });
      })
      .catch(() => {}); // the next event tries again
  }

  window.Dockyard.follow({
    url: () => anchor.dataset.wsUrl,
    onOpen: () => {
      document.body.dataset.live = "connected";
    },
    onMessage: (message) => {
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
    },
    onClose: () => {
      document.body.dataset.live = "closed";
    },
    retry: () => !refused,
  });
})();
