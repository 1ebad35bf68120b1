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
  const CHUNK_LINES = 1000; // one content-visibility block (see job.css)
  const FRAME_BUDGET_MS = 12; // DOM work and layout; the rest of 16 ms is for paint and input

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

  // ---- log ----------------------------------------------------------------

  let lastSeq = parseInt(root.dataset.lastSeq, 10) || 0; // highest seq accepted, shown or about to be
  let shownSeq = lastSeq;
  let lineCount = 0;
  let clipMarkedAt = -1; // lastSeq when the last clipped marker was queued
  const pending = []; // [seq, text, ms] lines and {clip} markers waiting for a frame
  let pendingHead = 0;
  let frameRequested = false;
  let chunk = null;
  let chunkRows = 0;
  const filledChunks = [];
  let frameLines = 250; // adapted by flush()

  const lineListeners = [];

  function queueLines(lines) {
    for (const [seq, text, ms] of lines) {
      if (!(seq > lastSeq)) continue; // replayed after a reconnect
      lastSeq = seq;
      const line = String(text);
      pending.push([seq, line, Number(ms) || 0]);
      if (!firstMs) firstMs = Number(ms) || 0;
      for (const listener of lineListeners) listener(seq, line);
    }
    scheduleFlush();
  }

  function queueClip(clip) {
    // Lines seen live were never missed, however the stored log was clipped later.
    if (lastSeq >= clip.before - 1 || clipMarkedAt === lastSeq) return;
    clipMarkedAt = lastSeq;
    pending.push({ clip, seenUpTo: lastSeq });
    scheduleFlush();
  }

  function clipRow({ clip, seenUpTo }) {
    // What the missing lines did to colours is unknown; start over plain.
    Object.assign(style, PLAIN);
    styleClass = "";
    // A reconnect can land inside the gap; then only part of it was missed.
    const partial = seenUpTo > clip.after;
    const count = partial ? clip.before - 1 - seenUpTo : clip.dropped_lines ?? clip.before - clip.after - 1;
    const size = partial ? "" : ` (${formatBytes(clip.dropped_bytes, 1)})`;
    const row = el("div", "line log-clipped");
    const link = el("a", "", "download the log");
    link.href = downloadEl ? downloadEl.href : "";
    row.append(`… ${Number(count).toLocaleString("en")} lines${size} clipped here; `, link, " for what was kept …");
    return row;
  }

  function scheduleFlush() {
    if (frameRequested || pendingHead >= pending.length) return;
    frameRequested = true;
    requestAnimationFrame(flush);
  }

  // Renders what fits in a frame, so a long backlog (the replay of a big log, a
  // tab back from the background) never blocks the page. What fits is learnt
  // from the frames before, layout included: layout costs more than the DOM work.
  function flush() {
    frameRequested = false;
    const start = performance.now();
    const stop = Math.min(pending.length, pendingHead + frameLines);
    const rendered = stop - pendingHead;
    const countBefore = lineCount;
    // A chunk turns lazy (see job.css) only after a frame laid it out full, so
    // that the size it is remembered at is its real one.
    for (const done of filledChunks.splice(0)) done.classList.add("full");
    while (pendingHead < stop) {
      if (!chunk || chunkRows >= CHUNK_LINES) {
        if (chunk) filledChunks.push(chunk);
        chunk = logEl.appendChild(el("div", "log-chunk"));
        chunkRows = 0;
      }
      const end = Math.min(stop, pendingHead + CHUNK_LINES - chunkRows);
      const fragment = document.createDocumentFragment();
      chunkRows += end - pendingHead;
      for (; pendingHead < end; pendingHead++) {
        const item = pending[pendingHead];
        if (item.clip) {
          fragment.appendChild(clipRow(item));
          continue;
        }
        fragment.appendChild(logRow(item));
        shownSeq = item[0];
        lineCount++;
      }
      chunk.appendChild(fragment);
    }
    if (pendingHead >= pending.length) pending.length = pendingHead = 0;
    logEl.dataset.lines = lineCount;
    root.dataset.lastSeq = shownSeq;
    // Layout is due before the next paint anyway; forcing it here puts it in the measure.
    if (followEl.checked) scrollToBottom();
    else {
      void logEl.scrollHeight;
      countUnseen(lineCount - countBefore);
    }
    reveal();
    // A few lines say little: their cost is mostly the frame's fixed part.
    if (rendered >= 100) {
      const fits = (FRAME_BUDGET_MS * rendered) / Math.max(performance.now() - start, 1);
      frameLines = Math.round(clamp((frameLines + fits) / 2, 250, 5000));
    }
    scheduleFlush();
  }

  // ---- rows: line links and times ----------------------------------------

  // A row: the stored line number as a link (#L120) and the line. Numbers and
  // times are drawn by CSS from attributes (job.css), so copying takes neither.
  function logRow([seq, text, ms]) {
    const row = el("div", "log-row");
    row.id = "L" + seq;
    const link = el("a", "ln");
    link.href = "#L" + seq;
    link.tabIndex = -1; // a million tab stops would trap the keyboard; search and the address reach lines
    link.dataset.n = seq;
    link.setAttribute("aria-label", "Line " + seq);
    const line = lineRow(text);
    line.dataset.ms = ms;
    if (timesMode) line.dataset.time = formatTime(ms);
    row.append(link, line);
    if (selection && seq >= selection.first && seq <= selection.last) row.classList.add("selected");
    if (search && search.found.has(seq)) {
      row.classList.add("match");
      if (search.seqs[search.index] === seq) row.classList.add("current");
    }
    return row;
  }

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
      if (timesMode) line.dataset.time = formatTime(Number(line.dataset.ms));
      else delete line.dataset.time;
    }
  });

  // ---- selected lines (#L120, #L120-L140) ---------------------------------

  let selection = null; // {first, last}
  let anchor = 0; // where a shift-click extends from
  let revealSeq = 0; // a line to scroll to once it is drawn (a link opened before its lines came)
  const MARK_AT_ONCE = 20000; // rows marked by one selection; a wider range is marked as it is drawn

  function rangeOfHash() {
    const match = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
    if (!match) return null;
    const [a, b] = [Number(match[1]), Number(match[2] || match[1])];
    return a >= 1 ? { first: Math.min(a, b), last: Math.max(a, b) } : null;
  }

  const hashOf = (range) => range.first === range.last ? `#L${range.first}` : `#L${range.first}-L${range.last}`;

  function select(range, scroll) {
    for (const row of logEl.querySelectorAll(".log-row.selected")) row.classList.remove("selected");
    selection = range;
    if (copyLinkEl) {
      copyLinkEl.hidden = !range;
      if (range) copyLinkEl.textContent = range.first === range.last
        ? `Copy link to line ${range.first}` : `Copy link to lines ${range.first}–${range.last}`;
    }
    if (!range) return;
    for (let seq = range.first; seq <= Math.min(range.last, range.first + MARK_AT_ONCE); seq++) {
      const row = document.getElementById("L" + seq);
      if (row) row.classList.add("selected");
    }
    if (scroll) revealLine(range.first);
  }

  function revealLine(seq) {
    revealSeq = seq;
    setFollow(false);
    reveal();
  }

  function reveal() {
    const row = revealSeq && document.getElementById("L" + revealSeq);
    if (!row) return;
    revealSeq = 0;
    row.scrollIntoView({ block: "center" });
    lastTop = logEl.scrollTop;
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

  async function fetchMatches(query, after) {
    const params = new URLSearchParams({ q: query.q, regex: query.regex, case: query.case, after });
    const response = await fetch(`${searchEl.dataset.url}?${params}`, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `The search failed (${response.status}).`);
    return body;
  }

  function addMatches(seqs) {
    for (const seq of seqs) {
      search.seqs.push(seq);
      search.found.add(seq);
      const row = document.getElementById("L" + seq);
      if (row) row.classList.add("match");
    }
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
    for (const row of logEl.querySelectorAll(".log-row.match")) row.classList.remove("match", "current");
    const q = byId("job-search-q").value;
    search = null;
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
    const previous = document.getElementById("L" + search.seqs[search.index]);
    if (previous) previous.classList.remove("current");
    search.index = index;
    const seq = search.seqs[index];
    const row = document.getElementById("L" + seq);
    if (row) row.classList.add("current");
    revealLine(seq);
    showSearchStatus();
  }

  // New lines of a running job join the results when every stored match is
  // loaded; JavaScript's regular expressions stand in for the server's here.
  function liveTest({ q, regex, case: exact }) {
    if (regex) {
      try {
        const pattern = new RegExp(q, exact ? "" : "i");
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
  // A link to lines opened with the page: shown when they are drawn, however late they come.
  if (rangeOfHash()) select(rangeOfHash(), true);

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
