// A BuildKit build's graph on its job page: one row per vertex, in start
// order, in a lane per stage; each row's state, duration and cache hit, its
// transfers as bars, its own log folded under it. Drawn from the stored graph
// (the json_script in templates/jobs/_graph.html), then from live "graph"
// events, which carry only the vertices and transfers that changed. The lines
// come from job.js, each once: a vertex's log is the lines "#<n> ..." that are
// not its header, DONE, CACHED, CANCELED or ERROR line (BUILDKIT.md).
(function () {
  "use strict";

  const graphEl = document.getElementById("job-graph");
  if (!graphEl) return;
  graphEl.dataset.stages = "0"; // set here, first: its place among the attributes is the same however events come
  const section = document.getElementById("job-graph-section");
  const outputEl = document.getElementById("job-output");
  const dockerfileEl = document.getElementById("job-dockerfile");

  const STATES = {
    waiting: "○", running: "▶", cached: "↻", done: "✓", failed: "✗", cancelled: "⊘",
  };
  const END_LINE = /^(?:DONE \d|CACHED$|CANCELED$|ERROR(?::|$))/;
  const LINE_TIME = /^(\d+\.\d+) /;
  const FRAME_LINES = 2000; // vertex log lines rendered per frame, over all open vertices
  const CHUNK_LINES = 1000; // as job.js: one content-visibility block
  const TICK_MS = 100;

  // The server's clock, as the page was rendered: running vertices tick on it.
  const clockOffset = (parseFloat(section.dataset.serverTime) || Date.now() / 1000) - Date.now() / 1000;
  const now = () => Date.now() / 1000 + clockOffset;

  let api = null;
  const vertices = new Map(); // n -> vertex view
  const logs = new Map(); // n -> {lines, ...}: lines may come before their vertex
  const lanes = new Map(); // stage -> lane view
  const transfers = new Map(); // "vertex id" -> transfer
  const failedShown = new Set();
  const unsorted = new Set(); // lanes whose rows are to be placed in start order
  const numbers = new Intl.NumberFormat("en");
  let order = 0; // first-seen order, for vertices not started yet
  let frameRequested = false;
  let ticker = null;
  let toScroll = null; // the first failed vertex, to bring into view once

  const el = (...args) => api.el(...args);

  function logOf(n) {
    let log = logs.get(n);
    if (!log) logs.set(n, (log = { lines: [], rendered: 0, chunk: null, chunkRows: 0, style: {} }));
    return log;
  }

  // ---- lanes and order ----------------------------------------------------

  // A one-stage build's steps have a step ("1/2") but no stage name: they are its
  // one stage, not BuildKit's internal work, and get a lane of their own.
  const ONLY_STAGE = "\u0000steps";
  const laneKey = (data) => String(data.stage || (data.step ? ONLY_STAGE : ""));

  function laneOf(stage) {
    let lane = lanes.get(stage);
    if (lane) return lane;
    const title = stage === ONLY_STAGE ? "Steps" : stage ? `Stage ${stage}` : "Internal";
    const heading = el("h3", "lane-name", title);
    heading.id = `job-lane-${lanes.size + 1}`;
    const node = el("section", "lane" + (stage ? "" : " lane-internal"));
    node.setAttribute("aria-labelledby", heading.id);
    const list = el("ol", "lane-vertices");
    node.append(heading, list);
    lane = { stage, node, list, members: [] };
    lanes.set(stage, lane);
    return lane;
  }

  const startKey = (vertex) => [vertex.data.started == null ? Infinity : Number(vertex.data.started), vertex.seen];
  const before = (a, b) => {
    const [x, y] = [startKey(a), startKey(b)];
    return x[0] - y[0] || x[1] - y[1];
  };

  // Moves nodes only when the order changed: an open row stays open, a log keeps its scroll.
  function arrange(container, nodes) {
    const current = [...container.children];
    if (current.length === nodes.length && nodes.every((node, i) => current[i] === node)) return;
    container.append(...nodes);
  }

  function arrangeLane(lane) {
    lane.members.sort(before);
    arrange(lane.list, lane.members.map((vertex) => vertex.item));
  }

  function arrangeLanes() {
    const ordered = [...lanes.values()].filter((lane) => lane.members.length);
    ordered.sort((a, b) => before(a.members[0], b.members[0]));
    arrange(graphEl, ordered.map((lane) => lane.node));
    // One stage reads top to bottom at the page's width, as its plain log does.
    graphEl.dataset.stages = ordered.filter((lane) => !lane.node.classList.contains("lane-internal")).length;
  }

  // ---- one vertex ---------------------------------------------------------

  function duration(data) {
    if (data.started == null) return null;
    const end = data.completed != null ? Number(data.completed) : data.state === "running" ? now() : null;
    return end == null ? null : Math.max(0, end - Number(data.started));
  }

  function dockerfileLine(data) {
    const line = Number(data.line);
    return Number.isInteger(line) && line >= 1 ? line : null;
  }

  function makeVertex(n) {
    const item = el("li", "vertex");
    item.dataset.n = n;
    const details = el("details");
    const summary = el("summary");
    const body = el("div", "vertex-body");
    const logEl = el("div", "log vertex-log");
    logEl.tabIndex = 0;
    logEl.setAttribute("role", "log");
    logEl.setAttribute("aria-live", "off");
    const transfersEl = el("div", "vertex-transfers");
    details.append(summary, body);
    item.append(details, transfersEl);
    const vertex = { n, data: {}, seen: order++, item, details, summary, body, logEl, transfersEl, lane: null };
    details.addEventListener("toggle", () => {
      if (details.open) scheduleLogs();
    });
    vertices.set(n, vertex);
    return vertex;
  }

  function renderSummary(vertex) {
    const { data } = vertex;
    const state = STATES[data.state] ? data.state : "waiting";
    const stateEl = el("span", "vertex-state");
    stateEl.append(el("span", "vertex-icon", STATES[state]), el("span", "vertex-state-text", state));
    stateEl.firstChild.setAttribute("aria-hidden", "true");
    const parts = [stateEl, el("span", "vertex-n", `#${vertex.n}`), el("code", "vertex-name", data.name || "")];
    if (data.cached) parts.push(el("span", "badge badge-cached", "cache hit"));
    vertex.durationEl = el("span", "vertex-duration", api.formatDuration(duration(data)));
    parts.push(vertex.durationEl);
    const count = Number(data.log_lines) || 0;
    if (count) parts.push(el("span", "vertex-lines", `${numbers.format(count)} ${count === 1 ? "line" : "lines"}`));
    if (data.engine_clipped) parts.push(el("span", "badge badge-engine-clipped", "log clipped by BuildKit"));
    vertex.summary.replaceChildren(...parts);
  }

  function renderBody(vertex) {
    const { data } = vertex;
    // Re-placing the log would lose its scroll position: only when what is above it changed.
    const shape = JSON.stringify([data.error, data.line, data.engine_clipped, data.name]);
    if (vertex.shape === shape) return;
    vertex.shape = shape;
    const parts = [];
    if (data.error) parts.push(el("pre", "vertex-error", data.error));
    const line = dockerfileLine(data);
    if (line) {
      const where = el("p", "vertex-source");
      const target = dockerfileEl && document.getElementById(`dockerfile-line-${line}`);
      if (target) {
        const link = el("a", "", `Dockerfile line ${line}`);
        link.href = `#dockerfile-line-${line}`;
        where.append(link);
        const text = target.textContent.trim();
        if (text) where.append(": ", el("code", "", text));
      } else {
        where.textContent = `Dockerfile line ${line}`;
      }
      parts.push(where);
    }
    if (data.engine_clipped) {
      parts.push(el("p", "vertex-engine-clipped",
        "BuildKit clipped this step's log at its own per-step limit; what it kept is below."));
    }
    vertex.logEl.setAttribute("aria-label", `Log of #${vertex.n} ${data.name || ""}`.trim());
    parts.push(vertex.logEl);
    vertex.body.replaceChildren(...parts);
  }

  function updateVertex(data) {
    const n = Number(data && data.n);
    if (!(n >= 1)) return;
    const vertex = vertices.get(n) || makeVertex(n);
    const old = vertex.data;
    vertex.data = { ...old, ...data };
    const state = STATES[vertex.data.state] ? vertex.data.state : "waiting";
    vertex.item.className = `vertex vertex-${state}`;
    vertex.item.dataset.state = state;
    renderSummary(vertex);
    renderBody(vertex);
    const stage = laneKey(vertex.data);
    if (!vertex.lane || vertex.lane.stage !== stage) {
      if (vertex.lane) vertex.lane.members = vertex.lane.members.filter((member) => member !== vertex);
      vertex.lane = laneOf(stage);
      vertex.lane.members.push(vertex);
    }
    if (!vertex.item.parentNode || old.started !== vertex.data.started) unsorted.add(vertex.lane);
    for (const transfer of transfers.values()) if (Number(transfer.vertex) === n) renderTransfers(vertex);
    if (state === "failed") showFailure(vertex);
  }

  // The failed vertex opens once, with its Dockerfile line marked: later
  // events must not reopen what the reader closed, nor yank the page back.
  function showFailure(vertex) {
    if (failedShown.has(vertex.n)) return;
    failedShown.add(vertex.n);
    vertex.details.open = true;
    const line = dockerfileLine(vertex.data);
    const target = line && dockerfileEl && document.getElementById(`dockerfile-line-${line}`);
    if (target && !target.classList.contains("dockerfile-failed")) {
      target.classList.add("dockerfile-failed");
      target.append(el("span", "dockerfile-mark", `failed: #${vertex.n}`));
    }
    if (failedShown.size === 1) toScroll = vertex; // once placed (showGraph)
  }

  // ---- transfers ----------------------------------------------------------

  function updateTransfer(data) {
    if (!data || data.vertex == null) return;
    const key = `${data.vertex} ${data.id}`;
    transfers.set(key, { ...transfers.get(key), ...data });
    const vertex = vertices.get(Number(data.vertex));
    if (vertex) renderTransfers(vertex);
  }

  function renderTransfers(vertex) {
    const rows = [];
    for (const transfer of transfers.values()) {
      if (Number(transfer.vertex) !== vertex.n) continue;
      const name = String(transfer.name || transfer.id || "transfer");
      const current = Number(transfer.current) || 0;
      const total = Number(transfer.total) || 0;
      const row = el("div", "transfer");
      const bar = el("progress");
      bar.setAttribute("aria-label", name);
      if (total > 0) {
        bar.max = total;
        bar.value = Math.min(current, total);
      } else if (transfer.completed) {
        bar.max = bar.value = 1;
      } // else indeterminate: the size is not known yet
      const bytes = total > 0 ? `${api.formatBytes(current, 2)} / ${api.formatBytes(total, 2)}` : api.formatBytes(current, 2);
      row.append(el("span", "transfer-name", name), bar,
        el("span", "transfer-bytes", bytes + (transfer.completed ? " · done" : "")));
      rows.push(row);
    }
    vertex.transfersEl.replaceChildren(...rows);
  }

  // ---- logs ---------------------------------------------------------------

  function takeLine(seq, text) {
    const match = /^#(\d+) /.exec(text);
    if (!match) return;
    const n = Number(match[1]);
    logOf(n).lines.push(text.slice(match[0].length));
    const vertex = vertices.get(n);
    if (vertex && vertex.details.open) scheduleLogs();
  }

  function scheduleLogs() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(renderLogs);
  }

  // What fits in a frame, for every open vertex: a step of 200,000 lines
  // opened must not block the page.
  function renderLogs() {
    frameRequested = false;
    let budget = FRAME_LINES;
    let more = false;
    for (const vertex of vertices.values()) {
      if (!vertex.details.open) continue;
      const log = logOf(vertex.n);
      if (log.rendered >= log.lines.length) continue;
      const logEl = vertex.logEl;
      const follow = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 4;
      const stop = Math.min(log.lines.length, log.rendered + budget);
      budget -= stop - log.rendered;
      for (; log.rendered < stop; log.rendered++) {
        const text = log.lines[log.rendered];
        if (text === vertex.data.name || END_LINE.test(text)) continue;
        if (!log.chunk || log.chunkRows >= CHUNK_LINES) {
          if (log.chunk) log.chunk.classList.add("full");
          log.chunk = logEl.appendChild(el("div", "log-chunk"));
          log.chunkRows = 0;
        }
        const time = LINE_TIME.exec(text);
        const row = api.lineRowIn(log.style, time ? text.slice(time[0].length) : text);
        if (time) row.prepend(el("span", "line-time", time[1] + " "));
        log.chunk.appendChild(row);
        log.chunkRows++;
      }
      logEl.dataset.lines = log.rendered;
      if (follow) logEl.scrollTop = logEl.scrollHeight;
      if (log.rendered < log.lines.length) more = true;
      if (budget <= 0) break;
    }
    if (more || budget <= 0) scheduleLogs();
  }

  // ---- ticking durations --------------------------------------------------

  function tick() {
    let running = 0;
    if (!api.isFinal()) {
      for (const vertex of vertices.values()) {
        if (vertex.data.state !== "running" || vertex.data.completed != null) continue;
        running++;
        const text = api.formatDuration(duration(vertex.data));
        if (vertex.durationEl.textContent !== text) vertex.durationEl.textContent = text;
      }
    }
    if (!running) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function showGraph(message) {
    for (const data of message.vertices || []) updateVertex(data);
    for (const data of message.transfers || []) updateTransfer(data);
    // Placed once for the whole event: moving rows and lanes after every vertex
    // costs a stored graph of hundreds of vertices most of a second.
    const empty = graphEl.querySelector(".graph-empty");
    if (empty && vertices.size) empty.remove();
    if (unsorted.size) {
      unsorted.forEach(arrangeLane);
      unsorted.clear();
      arrangeLanes();
    }
    graphEl.dataset.vertices = vertices.size;
    if (toScroll) {
      toScroll.item.scrollIntoView({ block: "nearest" });
      toScroll = null;
    }
    if (!ticker && [...vertices.values()].some((vertex) => vertex.data.state === "running")) {
      ticker = setInterval(tick, TICK_MS);
    }
  }

  // ---- the plain view -----------------------------------------------------

  function showView(view) {
    graphEl.hidden = view === "plain";
    if (outputEl) outputEl.hidden = view !== "plain";
  }

  // The view chosen is kept in the address (?view=plain): a reload or a shared link shows it again.
  const viewAsked = new URLSearchParams(location.search).get("view") === "plain" ? "plain" : "graph";
  section.querySelectorAll("input[name=job-view]").forEach((input) => {
    input.checked = input.value === viewAsked;
    input.addEventListener("change", () => {
      if (!input.checked) return;
      showView(input.value);
      const url = new URL(location.href);
      if (input.value === "plain") url.searchParams.set("view", "plain");
      else url.searchParams.delete("view");
      history.replaceState(history.state, "", url);
    });
  });
  showView(viewAsked);

  // Handed job.js's API before its socket opens (see job.js).
  window.Dockyard = window.Dockyard || {};
  window.Dockyard.jobPlugins = [...(window.Dockyard.jobPlugins || []), (jobApi) => {
    api = jobApi;
    api.onLine(takeLine);
    api.on("graph", showGraph);
    const stored = document.getElementById("job-graph-data");
    showGraph(stored ? JSON.parse(stored.textContent) : {});
    graphEl.dataset.ready = "true";
  }];
})();
