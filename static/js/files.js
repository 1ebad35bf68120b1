// The file explorer on the image page: one directory fetched at a time as it is
// opened, for the chosen layer, optionally only what that layer changed; and
// the path search. Rows come from the server as HTML with every name escaped.
(function () {
  "use strict";

  const root = document.getElementById("files-explorer");
  if (!root) return;
  const tree = document.getElementById("files-tree");
  const changed = document.getElementById("files-changed");
  const results = document.getElementById("files-results");
  const search = document.getElementById("files-search");

  function layer() {
    const chosen = root.querySelector("input[name=files-layer]:checked");
    return chosen ? chosen.value : "";
  }

  function fragmentUrl(base, params) {
    const url = new URL(base, window.location.href);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    url.searchParams.set("fragment", "1");
    return url;
  }

  async function fetchRows(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    const text = await response.text();
    const holder = document.createElement("template");
    if (response.ok) {
      holder.innerHTML = text;
    } else {
      const note = document.createElement("p");
      note.className = "error";
      note.textContent = `Could not load this directory (${response.status}).`;
      holder.content.append(note);
    }
    return holder.content;
  }

  async function showRoot() {
    tree.setAttribute("aria-busy", "true");
    const params = { layer: layer(), path: "/" };
    if (changed.checked) params.changed = "1";
    tree.replaceChildren(await fetchRows(fragmentUrl(root.dataset.treeUrl, params)));
    tree.removeAttribute("aria-busy");
    tree.dataset.layer = params.layer;
    tree.dataset.changed = changed.checked ? "1" : "0";
  }

  async function toggle(link) {
    const node = link.closest("li");
    const open = node.querySelector(":scope > ul, :scope > p");
    if (link.getAttribute("aria-expanded") === "true") {
      if (open) open.remove();
      link.setAttribute("aria-expanded", "false");
      return;
    }
    link.setAttribute("aria-busy", "true");
    node.append(await fetchRows(fragmentUrl(link.href, {})));
    link.removeAttribute("aria-busy");
    link.setAttribute("aria-expanded", "true");
  }

  async function more(link) {
    const item = link.closest("li");
    const rows = await fetchRows(fragmentUrl(link.href, {}));
    const list = rows.querySelector("ul.tree");
    item.replaceWith(...(list ? list.children : rows.childNodes));
  }

  tree.addEventListener("click", (event) => {
    const link = event.target.closest("a.tree-dir, a.tree-more-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    (link.classList.contains("tree-dir") ? toggle(link) : more(link));
  });
  root.querySelectorAll("input[name=files-layer]").forEach((radio) => radio.addEventListener("change", showRoot));
  changed.addEventListener("change", showRoot);
  search.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = new FormData(search).get("q") || "";
    results.replaceChildren(await fetchRows(fragmentUrl(search.action, { q: query })));
  });
  showRoot();
})();
