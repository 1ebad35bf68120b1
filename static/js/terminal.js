// A run's terminals (templates/jobs/_terminal.html): xterm.js on the websocket
// of images/jobs/terminals.py. In: ["stdout", text]. Out, only from those who
// may type: ["stdin", text] and ["set_size", rows, cols]. A watcher's terminal
// takes no input at all.
(function () {
  "use strict";

  const FINAL_STATES = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
  const NOT_RUNNING = 4409; // the run has not started yet, or has ended
  const WAIT_MS = 1000;

  function jobState() {
    const job = document.getElementById("job");
    return job ? job.dataset.state : "";
  }

  function open(panel) {
    const mayType = panel.dataset.mayType === "true";
    const status = panel.querySelector(".terminal-status");
    const terminal = new window.Terminal({
      disableStdin: !mayType,
      screenReaderMode: true, // its rows also go to a live region, read out as they come
      cursorBlink: mayType,
      scrollback: 5000,
    });
    const fit = new window.FitAddon.FitAddon();
    terminal.loadAddon(fit);
    terminal.open(panel.querySelector(".terminal-screen"));
    fit.fit();
    let socket = null;

    function send(frame) {
      if (mayType && socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    }

    function connect() {
      socket = new WebSocket(panel.dataset.wsUrl);
      socket.addEventListener("open", () => {
        status.textContent = mayType ? "Connected: what you type goes to the run's process."
          : "Connected: you watch this terminal; only the run's owner and admins type in it.";
        send(["set_size", terminal.rows, terminal.cols]);
      });
      socket.addEventListener("message", (event) => {
        const frame = JSON.parse(event.data);
        if (frame[0] === "stdout") terminal.write(frame[1]);
      });
      socket.addEventListener("close", (event) => {
        if (event.code === NOT_RUNNING && !FINAL_STATES.has(jobState())) {
          setTimeout(connect, WAIT_MS); // queued still, or just starting
          return;
        }
        status.textContent = "Closed: " + (event.reason || "the connection to the server was lost; reload to reconnect.");
        terminal.options.disableStdin = true;
        terminal.options.cursorBlink = false;
      });
    }

    if (mayType) {
      terminal.onData((data) => send(["stdin", data]));
      terminal.onResize(({ rows, cols }) => send(["set_size", rows, cols]));
    }
    window.addEventListener("resize", () => fit.fit());
    connect();
    return terminal;
  }

  const own = document.getElementById("run-terminal");
  if (own) open(own);
  const shellButton = document.getElementById("run-shell-open");
  const shell = document.getElementById("run-shell");
  if (shellButton && shell) {
    shellButton.addEventListener("click", () => {
      shellButton.disabled = true; // one shell per page; closing it ends it
      shell.hidden = false;
      open(shell).focus();
    });
  }
  // An ended run has no container to open a shell in: the button goes, as a reload would draw the page.
  const job = document.getElementById("job");
  if (job && shellButton) {
    job.addEventListener("job-ended", () => shellButton.closest("p").remove(), { once: true });
  }
})();
