// Live job page: follows one job (a build, pull, push or import) over its
// websocket (socket.js) and renders the log, a build's steps, a pull's or
// push's layer progress and the job's state. A BuildKit build's graph is
// graph.js's: loaded before this file, it is handed the API below before the
// socket opens, so it sees every accepted line once, in order.
(function () {
  "use strict";

  const root = document.getElementById("job");
  if (!root) return;
  const byId = (id) => document.getElementById(id);
  const logEl = byId("job-log");
  const followEl = byId("job-follow");
  const liveEl = byId("job-live");
  const copyLinkEl = byId("job-copy-link");
  const timesEl = byId("job-times");
  const searchEl = byId("job-search");
  const downloadEl = byId("job-log-download");
  const stateEl = byId("job-state");
  const durationEl = byId("job-duration");
  const elapsedEl = byId("job-elapsed");
  const imageEl = byId("job-image");
  const errorEl = byId("job-error");
  // Only a build page has steps, only a pull or push page progress: either may be missing.
  const stepsEl = byId("job-steps");
  const progressEl = byId("job-progress");
  const digestEl = byId("job-digest");

  const FINAL_STATES = new Set(["succeeded", "failed", "cancelled", "interrupted"]);

  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function formatDuration(seconds) {
    if (seconds == null || !isFinite(seconds)) return "";
    if (seconds < 59.95) return seconds.toFixed(1) + " s";
    const total = Math.round(seconds);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor(total / 60) % 60;
    return hours ? `${hours} h ${minutes} min` : `${minutes} min ${total % 60} s`;
  }

  function formatBytes(bytes, digits) {
    const value = Number(bytes) || 0;
    const unit = clamp(Math.floor(Math.log10(Math.max(value, 1)) / 3), 0, 4);
    return unit ? `${(value / 1000 ** unit).toFixed(digits)} ${["kB", "MB", "GB", "TB"][unit - 1]}` : `${value} B`;
  }

  // ---- ANSI escapes -------------------------------------------------------

  // ESC followed by: a CSI sequence (params in group 1, final byte in group 2),
  // an OSC/DCS/SOS/PM/APC string, or a short escape; a lone ESC matches too,
  // so that no escape ever reaches the page.
  const ESCAPE = /\x1b(?:\[([0-?]*)[ -/]*([@-~])|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])?/g;
  const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/; // also catches \r and ESC
  const STRAY_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;
  // xterm's default 16 colours, to map 256-colour and truecolour codes onto.
  const PALETTE = [
    [0, 0, 0], [205, 0, 0], [0, 205, 0], [205, 205, 0],
    [0, 0, 238], [205, 0, 205], [0, 205, 205], [229, 229, 229],
    [127, 127, 127], [255, 0, 0], [0, 255, 0], [255, 255, 0],
    [92, 92, 255], [255, 0, 255], [0, 255, 255], [255, 255, 255],
  ];
  const PLAIN = { bold: false, dim: false, italic: false, underline: false, fg: -1, bg: -1 };
  // The SGR state outlives a line, as in a terminal.
  const style = { ...PLAIN };
  let styleClass = "";

  function nearestColour([r = 0, g = 0, b = 0]) {
    let best = 0;
    let bestDistance = Infinity;
    PALETTE.forEach(([pr, pg, pb], index) => {
      const distance = (r - pr) ** 2 + (g - pg) ** 2 + (b - pb) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [index, distance];
    });
    return best;
  }

  function xterm256(n = 0) {
    if (n < 16) return PALETTE[n];
    if (n >= 232) return Array(3).fill(8 + (n - 232) * 10);
    const level = (c) => (c ? 55 + c * 40 : 0);
    n -= 16;
    return [level(Math.floor(n / 36)), level(Math.floor(n / 6) % 6), level(n % 6)];
  }

  function applySgr(params) {
    const codes = params.split(/[;:]/).map((p) => parseInt(p, 10) || 0);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) Object.assign(style, PLAIN);
      else if (code === 1) style.bold = true;
      else if (code === 2) style.dim = true;
      else if (code === 3) style.italic = true;
      else if (code === 4) style.underline = true;
      else if (code === 22) style.bold = style.dim = false;
      else if (code === 23) style.italic = false;
      else if (code === 24) style.underline = false;
      else if (code >= 30 && code <= 37) style.fg = code - 30;
      else if (code === 39) style.fg = -1;
      else if (code >= 40 && code <= 47) style.bg = code - 40;
      else if (code === 49) style.bg = -1;
      else if (code >= 90 && code <= 97) style.fg = code - 82;
      else if (code >= 100 && code <= 107) style.bg = code - 92;
      else if ((code === 38 || code === 48) && (codes[i + 1] === 5 || codes[i + 1] === 2)) {
        const rgb = codes[i + 1] === 5 ? xterm256(codes[i + 2]) : codes.slice(i + 2, i + 5);
        style[code === 38 ? "fg" : "bg"] = nearestColour(rgb);
        i += codes[i + 1] === 5 ? 2 : 4;
      }
    }
    styleClass = [
      style.bold && "ansi-bold", style.dim && "ansi-dim", style.italic && "ansi-italic", style.underline && "ansi-underline",
      style.fg >= 0 && `ansi-fg-${style.fg}`, style.bg >= 0 && `ansi-bg-${style.bg}`,
    ].filter(Boolean).join(" ");
  }

  // Without a row, only updates the SGR state (for text a "\r" overwrote).
  function writeStyled(row, text) {
    let pos = 0;
    for (const match of text.matchAll(ESCAPE)) {
      if (row) addText(row, text.slice(pos, match.index));
      pos = match.index + match[0].length;
      if (match[2] === "m" && /^[\d;:]*$/.test(match[1])) applySgr(match[1]);
    }
    if (row) addText(row, text.slice(pos));
  }

  function addText(row, text) {
    text = text.replace(STRAY_CONTROLS, "");
    if (!text) return;
    row.appendChild(styleClass ? el("span", styleClass, text) : document.createTextNode(text));
  }

  // A line rendered with colours of its own (a vertex's log in graph.js): the
  // SGR state in `state` carries on from its previous line, the log's is kept.
  function lineRowIn(state, text) {
    const saved = { ...style };
    const savedClass = styleClass;
    Object.assign(style, state.style || PLAIN);
    styleClass = state.styleClass || "";
    try {
      return lineRow(text);
    } finally {
      state.style = { ...style };
      state.styleClass = styleClass;
      Object.assign(style, saved);
      styleClass = savedClass;
    }
  }

  function lineRow(text) {
    const row = el("div", "line");
    if (!styleClass && !CONTROL.test(text)) {
      row.textContent = text;
      return row;
    }
    // A terminal shows what the last "\r" let through; a trailing "\r" overwrites nothing.
    text = text.replace(/\r+$/, "");
    const cut = text.lastIndexOf("\r");
    if (cut >= 0) {
      writeStyled(null, text.slice(0, cut));
      text = text.slice(cut + 1);
    }
    writeStyled(row, text);
    return row;
  }

  // ---- the log: a virtualised window on the stored lines ------------------
  //
  // Only the rows in view, and a few either side, are in the DOM; the vendored
  // @tanstack/virtual-core (virtualizer.js) says which and where. Lines come
  // over the socket as they arrive, and from the server by range
  // (GET /api/jobs/<id>/log?after=) when the reader scrolls to lines this page
  // does not hold: a finished job's million lines are never all fetched.
  //
  // Rows are numbered by line (seq). Some lines are hidden: those of a folded
  // section, and those a clipped log dropped (one row says so in their place).

  const BLOCK = 1000; // lines fetched, kept and forgotten together
  const KEEP_LINES = 200000; // held in memory; past it, blocks far from the view are forgotten
  const OVERSCAN = 20;
  const logUrl = root.dataset.logUrl;

  let lastSeq = parseInt(root.dataset.lastSeq, 10) || 0; // highest seq accepted: stored, or come over the socket
  let liveSeq = 0; // highest seq come over the socket (seen live)
  let acceptedLines = lastSeq; // lines known to exist, clipped ones not counted
  const lineData = new Map(); // seq -> [text, ms, SGR state at its start or null]
  const loadedBlocks = new Set();
  const loadingBlocks = new Set();
  let liveState = null; // the SGR state after the last line come live: it outlives a line, as in a terminal

  const lineListeners = [];

  // The first stored lines come with the page (those in view on opening).
  function takeFirstLines() {
    const data = byId("job-first-lines");
    if (!data) return;
    let state = null;
    for (const [seq, text, ms] of JSON.parse(data.textContent)) {
      lineData.set(seq, [text, ms, state]);
      state = stateAfter(state, text);
      if (seq === 1) firstMs = ms;
    }
  }

  // The SGR state after `text`, from `state` (null: plain).
  function stateAfter(state, text) {
    if (text.indexOf("\x1b") < 0) return state;
    const carried = { style: state ? state.style : PLAIN, styleClass: state ? state.styleClass : "" };
    const saved = { ...style };
    const savedClass = styleClass;
    Object.assign(style, carried.style);
    styleClass = carried.styleClass;
    writeStyled(null, text);
    const after = styleClass ? { style: { ...style }, styleClass } : null;
    Object.assign(style, saved);
    styleClass = savedClass;
    return after;
  }

  function queueLines(lines) {
    let added = 0;
    for (const [seq, text, ms] of lines) {
      if (!(seq > liveSeq) || !(seq > 0)) continue; // replayed after a reconnect
      const line = String(text);
      liveSeq = seq;
      if (seq > lastSeq) {
        acceptedLines += 1;
        added += 1;
        lastSeq = seq;
      }
      lineData.set(seq, [line, Number(ms) || 0, liveState]);
      liveState = stateAfter(liveState, line);
      if (seq % BLOCK === 0) loadedBlocks.add(seq / BLOCK - 1);
      if (!firstMs) firstMs = Number(ms) || 0;
      findMarker(seq, line, Number(ms) || 0);
      for (const listener of lineListeners) listener(seq, line);
    }
    unseenPending += added;
    // A folded section still open takes in the lines that come.
    if (added && [...folded].some((start) => sectionAt.has(start) && sectionAt.get(start).end === null)) rebuildHidden();
    scheduleRender();
  }

  // ---- clipped logs ----
  // The middle of a long log is dropped as its tail rolls on: a gap that
  // starts after line `after` and grows. clip.after -> {first, last, count, bytes}.
  const clips = new Map();

  function queueClip(clip) {
    // Lines seen live were never missed, however the stored log was clipped later.
    const first = Math.max(clip.after, liveSeq) + 1;
    const last = clip.before - 1;
    if (!(first <= last)) return;
    const partial = liveSeq > clip.after;
    const known = clips.get(clip.after);
    if (known && known.first === first && known.last === last) return;
    clips.set(clip.after, {
      first, last, partial, bytes: clip.dropped_bytes,
      count: partial ? last - first + 1 : clip.dropped_lines ?? last - first + 1,
    });
    // What the missing lines did to colours is unknown; start over plain.
    liveState = null;
    if (last > lastSeq) {
      acceptedLines += last - lastSeq;
      lastSeq = last;
    }
    acceptedLines -= (last - first + 1) - (known ? known.last - known.first + 1 : 0);
    for (let seq = first; seq <= last; seq++) lineData.delete(seq);
    rebuildHidden();
  }

  function clipRow(clip) {
    const size = clip.partial ? "" : ` (${formatBytes(clip.bytes, 1)})`;
    const row = el("div", "line log-clipped");
    const link = el("a", "", "download the log");
    link.href = downloadEl ? downloadEl.href : "";
    row.append(`… ${Number(clip.count).toLocaleString("en")} lines${size} clipped here; `, link, " for what was kept …");
    return row;
  }

  function clipAt(seq) {
    if (!clips.size) return null;
    for (const clip of clips.values()) if (clip.first === seq) return clip;
    return null;
  }

  // ---- sections: ::group::, GitLab's sections, classic steps and BuildKit vertices fold ----
  //
  // A section starts at a marker line and ends at its end marker (a group's
  // ::endgroup::, a GitLab section's section_end, a vertex's DONE/CACHED/ERROR)
  // or before the next step. The markers of the stored log are found by the
  // server's search (one pattern, over the whole log, run by Python's `regex`:
  // it must read the same there); those of new lines here, as they come.
  //
  // Groups and GitLab's sections may be printed by a RUN of a BuildKit build,
  // whose output lines BuildKit prefixes with "#5 0.426 " (vertex, seconds);
  // GitLab writes its markers after an "erase line" escape:
  // "\x1b[0Ksection_start:1700000000:deps[collapsed=true]\r\x1b[0KInstalling deps".
  const BUILDKIT_PREFIX = "#\\d+ \\d+\\.\\d+ ";
  const ERASE_LINE = "\\x1b\\[0K";
  const MARKERS = `^(?:(?:${BUILDKIT_PREFIX})?(?:${ERASE_LINE})?(?:::group::|::endgroup::|section_(?:start|end):\\d+:)` +
    "|Step \\d+/\\d+ : |#\\d+ (?:\\[|DONE|CACHED|ERROR))";
  const MARKER = new RegExp(MARKERS);
  const RUN_OUTPUT = new RegExp(`^${BUILDKIT_PREFIX}`);
  // section_start:<unix time>:<name>[<options>]\r<header>, section_end:<unix time>:<name>
  const GITLAB_SECTION = /^section_(start|end):\d+:([^\s[\]]+)(?:\[([^\]\r]*)\])?/;
  const markers = new Map(); // seq -> {kind, name, id, vertex, header, collapsed, ms}
  let sections = []; // {start, end, name, depth, kind, failed, ms, endMs, header, collapsed}
  const sectionAt = new Map(); // start seq -> section
  const folded = new Set(); // start seqs of folded sections
  // Start seqs of the sections that asked to start folded ([collapsed=true]) and
  // were: once only, so that one the reader unfolds stays open.
  const startedFolded = new Set();
  let sectionsDue = false;

  function findMarker(seq, text, ms) {
    const plain = CONTROL.test(text) ? text.replace(ESCAPE, "") : text;
    if (!MARKER.test(plain)) return;
    let match;
    if ((match = /^Step (\d+)\/\d+ : (.*)/.exec(plain))) markers.set(seq, { kind: "step", id: Number(match[1]), name: plain, ms });
    else if ((match = /^#(\d+) \[/.exec(plain))) markers.set(seq, { kind: "vertex", id: match[1], name: plain.slice(match[1].length + 2), ms });
    else if ((match = /^#(\d+) (DONE|CACHED|ERROR)/.exec(plain))) markers.set(seq, { kind: "vertex-end", id: match[1], failed: match[2] === "ERROR", ms });
    else {
      // A RUN's output: its groups pair up within that RUN's lines, whatever other vertices print meanwhile.
      const prefix = RUN_OUTPUT.exec(plain);
      const vertex = prefix ? prefix[0].slice(1, prefix[0].indexOf(" ")) : "";
      const own = prefix ? plain.slice(prefix[0].length) : plain;
      if (own.startsWith("::group::")) markers.set(seq, { kind: "group", name: own.slice(9) || "group", vertex, ms });
      else if (own.startsWith("::endgroup::")) markers.set(seq, { kind: "endgroup", vertex, ms });
      else if ((match = GITLAB_SECTION.exec(own))) {
        if (match[1] === "end") markers.set(seq, { kind: "section-end", name: match[2], vertex, ms });
        else {
          // The header is what the row shows after the marker's "\r", as for any line (lineRow).
          const shown = own.replace(/\r+$/, "");
          const cut = shown.lastIndexOf("\r");
          const header = cut >= 0 ? shown.slice(cut + 1).replace(STRAY_CONTROLS, "").trim() : "";
          const collapsed = (match[3] || "").split(",").some((option) => option.trim() === "collapsed=true");
          markers.set(seq, { kind: "section", name: match[2], header, collapsed, vertex, ms });
        }
      }
    }
    sectionsDue = true;
  }

  function buildSections() {
    sectionsDue = false;
    const list = [...markers.entries()].sort((a, b) => a[0] - b[0]);
    // Per vertex ("" outside a BuildKit RUN): its open groups and GitLab sections, innermost last.
    const openBy = new Map();
    const openIn = (vertex) => openBy.get(vertex) || openBy.set(vertex, []).get(vertex);
    // Ends stack[from] and whatever is still open inside it, at line `end`.
    const closeFrom = (stack, from, end, ms) => {
      for (const section of stack.splice(from)) [section.end, section.endMs] = [end, ms];
    };
    const vertices = new Map();
    let step = null;
    sections = [];
    for (const [seq, marker] of list) {
      const stack = openIn(marker.vertex || "");
      const section = { start: seq, end: null, name: marker.name, depth: stack.length, kind: marker.kind,
        id: marker.id, failed: false, ms: marker.ms, endMs: null, header: marker.header, collapsed: marker.collapsed };
      if (marker.kind === "group" || marker.kind === "section") {
        sections.push(section);
        stack.push(section);
      } else if (marker.kind === "endgroup" || marker.kind === "section-end") {
        // The innermost open group, or the open section of that name; none: it ends nothing.
        let at = stack.length - 1;
        while (at >= 0 && (marker.kind === "endgroup" ? stack[at].kind !== "group"
          : stack[at].kind !== "section" || stack[at].name !== marker.name)) at--;
        if (at >= 0) closeFrom(stack, at, seq, marker.ms);
      } else if (marker.kind === "step") {
        if (step) [step.end, step.endMs] = [seq - 1, marker.ms];
        step = section;
        sections.push(section);
      } else if (marker.kind === "vertex") {
        if (!vertices.has(marker.id)) {
          vertices.set(marker.id, section);
          sections.push(section);
        }
      } else {
        const open = vertices.get(marker.id);
        if (open && open.end === null) [open.end, open.endMs, open.failed] = [seq, marker.ms, marker.failed];
        // What its RUN left open ends with it, before its DONE or ERROR line, which stays in sight.
        closeFrom(openIn(marker.id), 0, seq - 1, marker.ms);
      }
    }
    for (const failed of steps.filter((known) => known.status === "failed")) {
      const section = sections.find((s) => s.kind === "step" && s.id === failed.number);
      if (section) section.failed = true;
    }
    // Sections folding above the view must not move what the reader looks at:
    // the line at its top stays there.
    const asked = sections.filter((section) => section.collapsed && !startedFolded.has(section.start));
    const keepTop = asked.length && !followEl.checked && logEl.scrollTop > 0;
    const topSeq = keepTop ? seqOfRow(Math.floor(logEl.scrollTop / rowHeight)) : 0;
    const topOffset = topSeq ? logEl.scrollTop - rowOfSeq(topSeq) * rowHeight : 0;
    for (const section of asked) {
      startedFolded.add(section.start);
      // Not over a line a link asked for.
      if (!(selection && section.start < selection.first && selection.first <= sectionEnd(section))) folded.add(section.start);
    }
    sectionAt.clear();
    for (const section of sections) if (section.start) sectionAt.set(section.start, section);
    for (const seq of folded) if (!sectionAt.has(seq)) folded.delete(seq);
    rebuildHidden();
    if (topSeq) {
      virtualizer.cancelScroll(); // a scroll to a row still under way would go to the row, not the line
      logEl.scrollTop = rowOfSeq(topSeq) * rowHeight + topOffset;
      lastTop = logEl.scrollTop;
    }
  }

  // The last line of a section, as far as the log has come.
  const sectionEnd = (section) => section.end ?? lastSeq;

  function fold(section, on) {
    if (on) folded.add(section.start);
    else folded.delete(section.start);
    rebuildHidden();
  }

  // Unfolds the sections that hide `seq`, so that it can be shown.
  function unfoldAround(seq) {
    let changed = false;
    for (const start of folded) {
      const section = sectionAt.get(start);
      if (section && start < seq && seq <= sectionEnd(section)) {
        folded.delete(start);
        changed = true;
      }
    }
    if (changed) rebuildHidden();
  }

  // ---- hidden lines and the row <-> line mapping ----
  let hidden = []; // sorted, disjoint [first, last] ranges of hidden lines
  let hiddenFirsts = [];
  let hiddenVisibleStart = []; // rows shown before each range
  let hiddenBefore = [0]; // hidden lines before each range (one more entry: all of them)
  let layoutDue = true; // the rows in the DOM no longer match the mapping

  function rebuildHidden() {
    const ranges = [];
    for (const start of folded) {
      const section = sectionAt.get(start);
      if (section && sectionEnd(section) > start) ranges.push([start + 1, sectionEnd(section)]);
    }
    for (const clip of clips.values()) if (clip.last > clip.first) ranges.push([clip.first + 1, clip.last]);
    ranges.sort((a, b) => a[0] - b[0]);
    hidden = [];
    for (const [first, last] of ranges) {
      const top = hidden[hidden.length - 1];
      if (top && first <= top[1] + 1) top[1] = Math.max(top[1], last);
      else hidden.push([first, last]);
    }
    hiddenFirsts = hidden.map((range) => range[0]);
    hiddenVisibleStart = [];
    hiddenBefore = [0];
    for (const [first, last] of hidden) {
      hiddenVisibleStart.push(first - 1 - hiddenBefore[hiddenBefore.length - 1]);
      hiddenBefore.push(hiddenBefore[hiddenBefore.length - 1] + last - first + 1);
    }
    layoutDue = true;
    scheduleRender();
  }

  // How many of `sorted` are below `value` (lower: <, else <=).
  function countBelow(sorted, value, orEqual) {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (orEqual ? sorted[mid] <= value : sorted[mid] < value) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  // Hidden ranges end by the last line (an open section's at the end, as far as it came).
  const rowCount = () => Math.max(lastSeq - hiddenBefore[hidden.length], 0);

  function seqOfRow(index) {
    const position = index + 1;
    return position + hiddenBefore[countBelow(hiddenVisibleStart, position, false)];
  }

  function rowOfSeq(seq) {
    for (;;) {
      const k = countBelow(hiddenFirsts, seq, true);
      if (k && hidden[k - 1][1] >= seq) seq = hidden[k - 1][0] - 1;
      else return seq - 1 - hiddenBefore[k];
    }
  }

  // ---- the virtualiser ----
  const sizer = el("div", "log-sizer");
  const windowEl = el("div", "log-window");
  sizer.append(windowEl);
  logEl.append(sizer);
  // Every row is this high (job.css): where a row goes is arithmetic, never a measurement.
  const rowHeight = (() => {
    const probe = el("div", "log-row");
    probe.append(el("span", "ln"), el("div", "line", "0"));
    windowEl.append(probe);
    const height = probe.getBoundingClientRect().height || 18;
    probe.remove();
    return height;
  })();

  const virtual = window.Dockyard.virtual;
  const virtualOptions = {
    count: 0,
    getScrollElement: () => logEl,
    estimateSize: () => rowHeight,
    getItemKey: (index) => (hidden.length ? seqOfRow(index) : index + 1),
    overscan: OVERSCAN,
    scrollToFn: virtual.elementScroll,
    observeElementRect: virtual.observeElementRect,
    observeElementOffset: virtual.observeElementOffset,
    onChange: () => scheduleRender(),
  };
  const virtualizer = new virtual.Virtualizer(virtualOptions);
  virtualizer._didMount();
  virtualizer._willUpdate();

  const rendered = new Map(); // seq -> row element in the DOM
  let renderRequested = false;
  let unseenPending = 0;

  function scheduleRender() {
    if (renderRequested) return;
    renderRequested = true;
    requestAnimationFrame(render);
  }

  function render() {
    renderRequested = false;
    if (sectionsDue) buildSections();
    const count = rowCount();
    if (virtualOptions.count !== count) {
      virtualOptions.count = count;
      virtualizer.setOptions({ ...virtualizer.options, count });
      virtualizer._willUpdate();
    }
    if (layoutDue) {
      layoutDue = false;
      for (const row of rendered.values()) row.remove();
      rendered.clear();
      virtualizer.measure();
    }
    sizer.style.height = `${virtualizer.getTotalSize()}px`;
    const following = followEl.checked;
    if (following && count) {
      logEl.scrollTop = logEl.scrollHeight;
      lastTop = logEl.scrollTop;
    }
    drawRows(virtualizer.getVirtualItems());
    logEl.dataset.lines = acceptedLines;
    root.dataset.lastSeq = lastSeq;
    if (unseenPending) {
      if (!following) countUnseen(unseenPending);
      unseenPending = 0;
    }
    if (revealSeq && revealSeq <= lastSeq) reveal();
    evict();
  }

  function drawRows(items) {
    const wanted = items.map((item) => [seqOfRow(item.index), item]);
    const keep = new Set(wanted.map(([seq]) => seq));
    for (const [seq, row] of rendered) {
      if (!keep.has(seq) || (row.classList.contains("pending") && lineData.has(seq))) {
        row.remove();
        rendered.delete(seq);
      }
    }
    windowEl.style.transform = `translateY(${items.length ? items[0].start : 0}px)`;
    // Rows kept stay where they are (a text selection in them survives); new
    // ones go in around them, in line order: both lists are in that order.
    const missing = new Set();
    let cursor = windowEl.firstChild;
    for (const [seq, item] of wanted) {
      const kept = rendered.get(seq);
      if (kept) {
        if (kept.dataset.index !== String(item.index)) kept.dataset.index = item.index;
        cursor = kept.nextSibling;
        continue;
      }
      const row = logRow(seq);
      row.dataset.index = item.index;
      rendered.set(seq, row);
      windowEl.insertBefore(row, cursor);
    }
    for (const [seq] of wanted) {
      if (!lineData.has(seq) && seq <= lastSeq && !clipAt(seq)) missing.add(Math.floor((seq - 1) / BLOCK));
    }
    if (missing.size) wantBlocks(missing);
  }

  // Blocks are asked for once the view has stayed on them a moment: a fast
  // scroll through a million lines passes over hundreds it need not fetch.
  const FETCH_DELAY_MS = 60;
  let wantedBlocks = new Set();
  let wantTimer = 0;

  function wantBlocks(blocks) {
    wantedBlocks = blocks;
    clearTimeout(wantTimer);
    wantTimer = setTimeout(() => {
      for (const block of wantedBlocks) fetchBlock(block);
    }, loadedBlocks.size || loadingBlocks.size ? FETCH_DELAY_MS : 0);
  }

  // ---- fetching lines by range ----
  async function fetchBlock(block) {
    if (loadedBlocks.has(block) || loadingBlocks.has(block) || !logUrl) return;
    loadingBlocks.add(block);
    try {
      const response = await fetch(`${logUrl}?after=${block * BLOCK}&limit=${BLOCK}`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`log ${response.status}`);
      const body = await response.json();
      // Colours carry on within what came; before it, they are taken as plain.
      let state = null;
      for (const [seq, text, ms] of body.lines) {
        if (!lineData.has(seq)) lineData.set(seq, [text, ms, state]);
        state = stateAfter(state, text);
        if (!firstMs && seq === 1) firstMs = ms;
      }
      const reached = body.more ? body.next_after : Math.max(body.next_after, lastSeq);
      for (let b = block; (b + 1) * BLOCK <= reached || (!body.more && b * BLOCK < reached); b++) loadedBlocks.add(b);
      loadedBlocks.add(block);
    } catch (error) {
      setTimeout(() => scheduleRender(), 2000); // tried again then
    } finally {
      loadingBlocks.delete(block);
    }
    scheduleRender();
  }

  // Forgets blocks far from the view once too many lines are held.
  function evict() {
    if (lineData.size <= KEEP_LINES) return;
    const here = Math.floor((seqOfRow(Math.max(virtualizer.range ? virtualizer.range.startIndex : 0, 0)) - 1) / BLOCK);
    const liveBlock = Math.floor((lastSeq - 1) / BLOCK);
    for (const block of [...loadedBlocks].sort((a, b) => Math.abs(b - here) - Math.abs(a - here))) {
      if (lineData.size <= KEEP_LINES * 0.8) break;
      if (Math.abs(block - here) < 10 || block >= liveBlock) continue;
      loadedBlocks.delete(block);
      for (let seq = block * BLOCK + 1; seq <= (block + 1) * BLOCK; seq++) lineData.delete(seq);
    }
  }

  // ---- rows: line links and times ----------------------------------------

  // A row: the stored line number as a link (#L120) and the line. Numbers and
  // times are drawn by CSS from attributes (job.css), so copying takes neither.
  function logRow(seq) {
    const row = el("div", "log-row");
    row.id = "L" + seq;
    const link = el("a", "ln");
    link.href = "#L" + seq;
    link.tabIndex = -1; // a million tab stops would trap the keyboard; search and the address reach lines
    link.dataset.n = seq;
    link.setAttribute("aria-label", "Line " + seq);
    const clip = clipAt(seq);
    const entry = lineData.get(seq);
    let line;
    if (clip) line = clipRow(clip);
    else if (!entry) {
      line = el("div", "line");
      row.classList.add("pending");
    } else {
      line = lineRowIn(entry[2] ? { ...entry[2] } : {}, entry[0]);
      line.dataset.ms = entry[1];
      if (timesMode) line.dataset.time = formatTime(entry[1]);
    }
    const section = sectionAt.get(seq);
    // A GitLab section without a header is shown by its name, not its marker.
    if (section && section.kind === "section" && !section.header && entry && !clip) line.textContent = section.name;
    if (section && !clip) {
      row.classList.add("section-start");
      if (section.failed) row.classList.add("section-failed");
      const open = !folded.has(seq);
      const toggle = el("button", "fold");
      toggle.type = "button";
      toggle.dataset.start = seq;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.setAttribute("aria-label", `${open ? "Fold" : "Unfold"} section at line ${seq}`);
      const took = section.endMs != null ? formatDuration((section.endMs - section.ms) / 1000) : "";
      if (took) line.dataset.took = took;
      row.append(link, toggle, line);
    } else row.append(link, line);
    markRow(row, seq);
    return row;
  }

  function markRow(row, seq) {
    row.classList.toggle("selected", Boolean(selection && seq >= selection.first && seq <= selection.last));
    row.classList.toggle("match", Boolean(search && search.found.has(seq)));
    row.classList.toggle("current", Boolean(search && search.seqs[search.index] === seq));
  }

  function markRows() {
    for (const [seq, row] of rendered) markRow(row, seq);
  }

  logEl.addEventListener("click", (event) => {
    const toggle = event.target.closest("button.fold");
    if (!toggle) return;
    const section = sectionAt.get(Number(toggle.dataset.start));
    if (section) fold(section, !folded.has(section.start));
    // The row is drawn anew; keep the keyboard on its button.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      const again = logEl.querySelector(`button.fold[data-start="${section.start}"]`);
      if (again && document.activeElement === document.body) again.focus();
    }));
  });

  let timesMode = "";
  const TIMEZONE_MS = new Date().getTimezoneOffset() * 60000;
  const pad = (n, width = 2) => String(n).padStart(width, "0");

  function formatTime(ms) {
    if (!ms) return "";
    if (timesMode === "since") {
      const since = Math.max(ms - (Number(root.dataset.startedMs) || firstMs), 0);
      return `+${Math.floor(since / 60000)}:${pad(Math.floor(since / 1000) % 60)}.${pad(since % 1000, 3)}`;
    }
    const day = (((ms - TIMEZONE_MS) % 86400000) + 86400000) % 86400000;
    return `${pad(Math.floor(day / 3600000))}:${pad(Math.floor(day / 60000) % 60)}:` +
      `${pad(Math.floor(day / 1000) % 60)}.${pad(day % 1000, 3)}`;
  }
  let firstMs = 0; // the first line's time: "since start" for a job the page has no start of

  if (timesEl) timesEl.addEventListener("change", () => {
    timesMode = timesEl.value;
    logEl.classList.toggle("with-times", Boolean(timesMode));
    for (const line of logEl.querySelectorAll(".log-row > .line")) {
      if (timesMode && line.dataset.ms) line.dataset.time = formatTime(Number(line.dataset.ms));
      else delete line.dataset.time;
    }
  });

  // ---- selected lines (#L120, #L120-L140) ---------------------------------

  let selection = null; // {first, last}
  let anchor = 0; // where a shift-click extends from
  let revealSeq = 0; // a line to scroll to once it exists (a link opened before its lines came)

  function rangeOfHash() {
    const match = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
    if (!match) return null;
    const [a, b] = [Number(match[1]), Number(match[2] || match[1])];
    return a >= 1 ? { first: Math.min(a, b), last: Math.max(a, b) } : null;
  }

  const hashOf = (range) => range.first === range.last ? `#L${range.first}` : `#L${range.first}-L${range.last}`;

  function select(range, scroll) {
    selection = range;
    if (copyLinkEl) {
      copyLinkEl.hidden = !range;
      if (range) copyLinkEl.textContent = range.first === range.last
        ? `Copy link to line ${range.first}` : `Copy link to lines ${range.first}–${range.last}`;
    }
    markRows();
    if (range && scroll) revealLine(range.first);
  }

  function revealLine(seq) {
    revealSeq = seq;
    setFollow(false);
    if (seq <= lastSeq) reveal();
  }

  // Scrolls to line revealSeq (there now), unfolding what hides it; its row is
  // drawn, and its lines fetched, by the render the scroll sets off.
  function reveal() {
    const seq = revealSeq;
    revealSeq = 0;
    unfoldAround(seq);
    if (sectionsDue || layoutDue) render();
    virtualizer.scrollToIndex(rowOfSeq(seq), { align: "center" });
    lastTop = logEl.scrollTop;
    scheduleRender();
  }

  logEl.addEventListener("click", (event) => {
    const link = event.target.closest("a.ln");
    if (!link) return;
    event.preventDefault();
    const seq = Number(link.dataset.n);
    const range = event.shiftKey && selection
      ? { first: Math.min(anchor, seq), last: Math.max(anchor, seq) } : { first: seq, last: seq };
    if (!event.shiftKey || !selection) anchor = seq;
    history.replaceState(history.state, "", hashOf(range));
    setFollow(false);
    select(range, false);
  });
  window.addEventListener("hashchange", () => select(rangeOfHash(), true));
  if (copyLinkEl) copyLinkEl.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      copyLinkEl.textContent = "Link copied";
    } catch {
      copyLinkEl.textContent = "Copy the address bar: the browser refused";
    }
  });

  // ---- search (on the server, over the whole stored log) ------------------

  let search = null; // {query, seqs (in order), found (a Set of them), count, more, nextAfter, index}
  const searchStatusEl = byId("job-search-status");
  const searchPrevEl = byId("job-search-prev");
  const searchNextEl = byId("job-search-next");
  const searchUrl = searchEl ? searchEl.dataset.url : "";

  async function fetchMatches(query, after) {
    const params = new URLSearchParams({ q: query.q, regex: query.regex, case: query.case, after });
    const response = await fetch(`${searchUrl}?${params}`, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `The search failed (${response.status}).`);
    return body;
  }

  function addMatches(seqs) {
    for (const seq of seqs) {
      search.seqs.push(seq);
      search.found.add(seq);
    }
    markRows();
  }

  function showSearchStatus() {
    const { count, index } = search;
    const where = index >= 0 ? `: ${(index + 1).toLocaleString("en")} of ${count.toLocaleString("en")}` : "";
    searchStatusEl.textContent = count
      ? `${count.toLocaleString("en")} matching line${count === 1 ? "" : "s"}${where}` : "No matching lines";
    searchPrevEl.disabled = !(index > 0);
    searchNextEl.disabled = !(index + 1 < search.seqs.length || search.more);
  }

  async function startSearch() {
    const q = byId("job-search-q").value;
    search = null;
    markRows();
    if (!q) {
      searchStatusEl.textContent = "";
      searchPrevEl.disabled = searchNextEl.disabled = true;
      return;
    }
    const query = { q, regex: byId("job-search-regex").checked, case: byId("job-search-case").checked };
    searchStatusEl.textContent = "Searching…";
    try {
      const body = await fetchMatches(query, 0);
      search = { query, seqs: [], found: new Set(), count: body.count, more: body.more,
        nextAfter: body.next_after, index: -1, test: liveTest(query) };
      addMatches(body.lines.map(([seq]) => seq));
      if (search.seqs.length) await goToMatch(0);
      else showSearchStatus();
    } catch (error) {
      searchStatusEl.textContent = error.message;
    }
  }

  async function goToMatch(index) {
    if (index >= search.seqs.length && search.more) {
      const body = await fetchMatches(search.query, search.nextAfter);
      search.more = body.more;
      search.nextAfter = body.next_after;
      addMatches(body.lines.map(([seq]) => seq));
    }
    if (index < 0 || index >= search.seqs.length) return;
    search.index = index;
    markRows();
    revealLine(search.seqs[index]);
    showSearchStatus();
  }

  // New lines of a running job join the results when every stored match is
  // loaded; JavaScript's regular expressions stand in for the server's here.
  function liveTest({ q, regex, case: exact }) {
    if (regex) {
      try {
        const pattern = new RegExp(q, exact ? "m" : "im");
        return (text) => pattern.test(text);
      } catch {
        return () => false;
      }
    }
    const needle = exact ? q : q.toLowerCase();
    return (text) => (exact ? text : text.toLowerCase()).includes(needle);
  }
  lineListeners.push((seq, text) => {
    if (!search || search.more || search.found.has(seq) || !search.test(text)) return;
    search.count++;
    search.seqs.push(seq);
    search.found.add(seq);
    showSearchStatus();
  });

  if (searchEl) {
    searchEl.addEventListener("submit", (event) => {
      event.preventDefault();
      startSearch();
    });
    // The browser's find sees only the lines drawn; this search sees the whole log.
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "f" && !root.querySelector("#job-output[hidden]")) {
        event.preventDefault();
        byId("job-search-q").focus();
        byId("job-search-q").select();
      }
    });
    searchPrevEl.addEventListener("click", () => search && goToMatch(search.index - 1));
    searchNextEl.addEventListener("click", () => search && goToMatch(search.index + 1));
  }

  // The stored log's section markers, from the server's search: a page at a
  // time, after the first lines are drawn.
  async function fetchMarkers(after) {
    try {
      const body = await fetchMatches({ q: MARKERS, regex: true, case: true }, after);
      for (const [seq, text, ms] of body.lines) if (!markers.has(seq)) findMarker(seq, text, ms);
      scheduleRender();
      if (body.more) fetchMarkers(body.next_after);
    } catch {
      // The log still reads without folds.
    }
  }

  // ---- the first error -----------------------------------------------------
  // A failed step's (or vertex's) first error line; else the log's first error line.
  const ERROR_LINES = "\\b(?:error|fatal|failed)\\b";
  const firstErrorEl = byId("job-first-error");
  const firstErrorStatusEl = byId("job-first-error-status");

  async function jumpToFirstError() {
    if (sectionsDue) buildSections();
    const failed = sections.find((section) => section.failed);
    firstErrorStatusEl.textContent = "";
    let body;
    try {
      body = await fetchMatches({ q: ERROR_LINES, regex: true, case: false }, failed ? failed.start - 1 : 0);
    } catch (error) {
      firstErrorStatusEl.textContent = error.message;
      return;
    }
    let seq = body.lines.length ? body.lines[0][0] : 0;
    if (failed && !(seq && seq <= sectionEnd(failed))) seq = sectionEnd(failed);
    if (!seq) {
      firstErrorStatusEl.textContent = "No error lines.";
      return;
    }
    history.replaceState(history.state, "", hashOf({ first: seq, last: seq }));
    select({ first: seq, last: seq }, true);
  }
  if (firstErrorEl) firstErrorEl.addEventListener("click", jumpToFirstError);

  // ---- follow -------------------------------------------------------------

  // Following pauses when the reader scrolls up; what comes meanwhile is
  // counted on a button that takes them back to the end.
  let unseen = 0;

  function setFollow(on) {
    followEl.checked = on;
    if (!on) return;
    unseen = 0;
    if (liveEl) liveEl.hidden = true;
  }

  function countUnseen(added) {
    if (!liveEl || !added || FINAL_STATES.has(root.dataset.state)) return;
    unseen += added;
    liveEl.textContent = `${unseen.toLocaleString("en")} new line${unseen === 1 ? "" : "s"}: jump to live`;
    liveEl.hidden = false;
  }

  if (liveEl) liveEl.addEventListener("click", () => {
    setFollow(true);
    scrollToBottom();
  });

  const atBottom = () => logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 4;
  let lastTop = 0;

  function scrollToBottom() {
    logEl.scrollTop = logEl.scrollHeight;
    lastTop = logEl.scrollTop;
    scheduleRender();
  }

  // Only a move up is the reader leaving the end: the log growing under a
  // scroll position, or resizing, must not stop following.
  logEl.addEventListener("scroll", () => {
    const top = logEl.scrollTop;
    if (atBottom()) setFollow(true);
    else if (top < lastTop) setFollow(false);
    else if (followEl.checked) scrollToBottom();
    lastTop = top;
  });
  // Scroll events can lag a wheel turn by a frame, long enough for a new batch
  // to pull the log back down.
  logEl.addEventListener("wheel", (event) => {
    if (event.deltaY < 0 && logEl.scrollTop > 0) setFollow(false);
  }, { passive: true });
  followEl.addEventListener("change", () => {
    setFollow(followEl.checked);
    if (followEl.checked) scrollToBottom();
  });

  // ---- state, steps, progress --------------------------------------------

  function showState(message) {
    const state = String(message.state);
    const ended = FINAL_STATES.has(state) && !FINAL_STATES.has(root.dataset.state);
    root.dataset.state = state;
    // The same text again would be read out again (the state is a live region).
    // The final duration is read out with the state; a running one ticks beside it, silently.
    const duration = FINAL_STATES.has(state) ? formatDuration(message.duration) : "";
    if (stateEl.textContent !== state) stateEl.textContent = state;
    if (durationEl.textContent !== duration) durationEl.textContent = duration;
    showElapsed(state === "running" ? Number(message.duration) || 0 : null);
    stateEl.className = "state state-" + state;
    // Only site paths and web addresses: never a javascript: link.
    const url = /^(\/|https?:\/\/)/i.test(message.image_url || "") ? message.image_url : "";
    imageEl.hidden = !url;
    if (url) {
      imageEl.href = url;
      imageEl.textContent = String(message.image_id || "").replace(/^sha256:/, "").slice(0, 12) || "image";
    }
    // A build given no tags says so once it has made its image (the note is on the page only for those).
    const untaggedEl = byId("job-untagged");
    if (untaggedEl && message.image_id) {
      untaggedEl.querySelector("code").textContent = String(message.image_id);
      untaggedEl.hidden = false;
    }
    errorEl.textContent = message.error || "";
    errorEl.hidden = !message.error;
    // "Compare with the previous build": once this build has made another image than that one.
    const compareEl = byId("job-compare");
    if (compareEl && state === "succeeded" && message.image_id && message.image_id !== compareEl.dataset.previousImage) {
      compareEl.querySelector("a").href = compareEl.dataset.diffUrl + encodeURIComponent(message.image_id);
      compareEl.hidden = false;
    }
    // A worker took the job: the note that none serves its engine is out of date.
    const noWorkerEl = byId("job-no-worker");
    if (noWorkerEl && state !== "queued") noWorkerEl.hidden = true;
    // An ended job cannot be cancelled any more.
    const cancelEl = byId("job-cancel");
    if (cancelEl && FINAL_STATES.has(state)) cancelEl.hidden = true;
    // Seen ending here, not loaded ended: what the server draws for an ended job follows (run.js, terminal.js).
    if (ended) root.dispatchEvent(new CustomEvent("job-ended", { detail: { state } }));
  }

  // ---- the running job's clock -------------------------------------------
  const ELAPSED_TICK_MS = 100;
  let elapsedTicker = null;
  let runningSince = 0;

  // `seconds` run so far, as the server said (null: not running).
  function showElapsed(seconds) {
    if (!elapsedEl) return;
    clearInterval(elapsedTicker);
    elapsedTicker = null;
    elapsedEl.hidden = seconds == null;
    if (seconds == null) return;
    runningSince = performance.now() - seconds * 1000;
    const tick = () => {
      elapsedEl.textContent = formatDuration((performance.now() - runningSince) / 1000);
    };
    tick();
    elapsedTicker = setInterval(tick, ELAPSED_TICK_MS);
  }

  let failedStepShown = false;
  let steps = []; // as last rendered, in order of number

  // One changed step, live; a whole list comes on connect and with the end.
  function updateStep(step) {
    const number = Number(step && step.number);
    if (!(number >= 1)) return;
    steps = [...steps.filter((known) => known.number !== number), step].sort((a, b) => a.number - b.number);
    showSteps(steps);
  }

  function showSteps(list) {
    steps = list;
    // A failed step's section is marked so, and is where "First error" looks first.
    if (markers.size) {
      sectionsDue = true;
      scheduleRender();
    }
    if (!stepsEl) return;
    const fragment = document.createDocumentFragment();
    let failed = null;
    for (const step of list) {
      const item = el("li", "step step-" + step.status);
      item.append(el("span", "step-number", `Step ${step.number}/${step.total}`),
        el("code", "step-instruction", step.instruction));
      if (step.status === "cached") item.append(el("span", "badge badge-cached", "cached"));
      if (step.duration != null) item.append(el("span", "step-duration", formatDuration(step.duration)));
      if (step.error) item.append(el("pre", "step-error", step.error));
      if (step.status === "failed") failed = failed || item;
      fragment.append(item);
    }
    stepsEl.replaceChildren(fragment);
    // Once only: later snapshots must not yank the page back while it is read.
    if (failed && !failedStepShown) {
      failedStepShown = true;
      failed.scrollIntoView({ block: "nearest" });
    }
  }

  function showProgress(message) {
    if (progressEl) {
      const fragment = document.createDocumentFragment();
      for (const layer of message.layers || []) {
        const row = el("div", "layer");
        row.append(el("code", "layer-id", layer.id), el("span", "layer-status", layer.status));
        if (layer.total > 0) {
          const bar = el("progress");
          bar.setAttribute("aria-label", `Layer ${layer.id}`);
          bar.max = layer.total;
          bar.value = Math.min(layer.current || 0, layer.total);
          const bytes = `${formatBytes(layer.current, 2)} / ${formatBytes(layer.total, 2)}`;
          row.append(bar, el("span", "layer-bytes", bytes));
        }
        fragment.append(row);
      }
      progressEl.replaceChildren(fragment);
    }
    if (digestEl && message.digest) {
      digestEl.textContent = "Digest: " + message.digest;
      digestEl.hidden = false;
    }
  }

  // ---- connection ---------------------------------------------------------

  const HANDLERS = {
    lines: (message) => queueLines(message.lines || []),
    clipped: queueClip,
    state: showState,
    steps: (message) => showSteps(message.steps || []),
    step: (message) => updateStep(message.step),
    progress: showProgress,
    // While the job waits: whether any live worker serves its engine's queue.
    workers: (message) => {
      const noWorkerEl = byId("job-no-worker");
      if (noWorkerEl) noWorkerEl.hidden = message.present !== false || root.dataset.state !== "queued";
    },
    // Too many live pages open for this person: say so, and do not retry.
    refused: (message) => {
      refused = true;
      root.prepend(el("p", "error stream-refused", message.message));
    },
  };
  let refused = false;

  const api = {
    el, lineRowIn, formatDuration, formatBytes,
    onLine: (listener) => lineListeners.push(listener),
    on: (type, handler) => { HANDLERS[type] = handler; },
    isFinal: () => FINAL_STATES.has(root.dataset.state),
  };
  for (const plugin of window.Dockyard.jobPlugins || []) plugin(api);

  takeFirstLines();
  if (byId("job-clip")) queueClip(JSON.parse(byId("job-clip").textContent));
  // A finished job opens at its first line; a running one follows its end.
  if (FINAL_STATES.has(root.dataset.state) && lastSeq) setFollow(false);
  // A link to lines opened with the page: shown when they come, however late.
  if (rangeOfHash()) select(rangeOfHash(), true);
  render();
  if (lastSeq) fetchMarkers(0);

  window.Dockyard.follow({
    url: () => {
      const url = new URL(root.dataset.wsUrl, location.href);
      url.protocol = url.protocol.replace(/^http/, "ws");
      url.searchParams.set("after", lastSeq);
      return url.href;
    },
    onMessage: (message) => {
      const handler = HANDLERS[message.type];
      if (handler) handler(message);
    },
    retry: () => !refused && !FINAL_STATES.has(root.dataset.state),
    maxMs: 5000, // output someone is watching comes back sooner than a list's refresh
  });
})();
