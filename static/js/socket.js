// One websocket that reconnects, for every page that follows the server live.
//
// The wait before reconnecting doubles after each connection that ended
// without proving itself, and starts over only after one delivered a message
// or stayed open STEADY_MS: a server that accepts and then closes at once must
// not be asked again every half second by every open tab.
(function () {
  "use strict";

  const FIRST_MS = 500;
  const MAX_MS = 10000;
  const STEADY_MS = 5000;
  const JITTER = 0.2; // tabs that lost the same server come back spread out

  // options: url() gives the address for each attempt; onMessage(message) gets
  // each parsed JSON message; onOpen() and onClose() are optional; retry()
  // answers whether to reconnect after a close (default: always); maxMs caps
  // the wait (default MAX_MS).
  function follow(options) {
    const settings = { firstMs: FIRST_MS, maxMs: MAX_MS, steadyMs: STEADY_MS, ...options };
    let wait = settings.firstMs;
    let steadyTimer = null;

    function proven() {
      wait = settings.firstMs;
      clearTimeout(steadyTimer);
    }

    function connect() {
      const socket = new WebSocket(settings.url());
      socket.addEventListener("open", () => {
        steadyTimer = setTimeout(proven, settings.steadyMs);
        if (settings.onOpen) settings.onOpen();
      });
      socket.addEventListener("message", (event) => {
        proven();
        settings.onMessage(JSON.parse(event.data));
      });
      socket.addEventListener("close", () => {
        clearTimeout(steadyTimer);
        if (settings.onClose) settings.onClose();
        if (settings.retry && !settings.retry()) return;
        setTimeout(connect, wait * (1 + Math.random() * JITTER));
        wait = Math.min(wait * 2, settings.maxMs);
      });
    }

    connect();
  }

  window.Dockyard = Object.assign(window.Dockyard || {}, { follow });
})();
