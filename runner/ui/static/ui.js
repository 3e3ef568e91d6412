// Small enhancements for every page; each page works without them.
// - forms marked data-autosubmit are sent as soon as one of their choices changes;
// - while a page shows runs that are still active (an element with data-refresh, itself inside a
//   part marked data-live), the data-live parts are fetched again every few seconds and swapped in
//   place, keeping ticked boxes and open sections; once no run is active the page stops asking;
// - a "select all" box ticks every run of the table.
"use strict";
(function () {
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    form.addEventListener("change", () => form.requestSubmit());
  }

  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll("input[type=checkbox][name=run]")) box.checked = all.checked;
    });
  }

  const REFRESH_MS = 3000;
  function remember() {
    const ticked = new Set([...document.querySelectorAll("input[type=checkbox]:checked")].map(b => b.name + "=" + b.value));
    const open = new Set([...document.querySelectorAll("details[open]")].map(d => d.id || d.textContent.slice(0, 40)));
    return {ticked, open};
  }
  function restore(root, kept) {
    for (const box of root.querySelectorAll("input[type=checkbox]")) {
      if (box.name === "run") box.checked = kept.ticked.has(box.name + "=" + box.value);
    }
    for (const section of root.querySelectorAll("details")) {
      if (kept.open.has(section.id || section.textContent.slice(0, 40))) section.open = true;
    }
  }
  async function refresh() {
    try {
      const response = await fetch(location.href, {cache: "no-store", headers: {"Accept": "text/html"}});
      if (!response.ok) return setTimeout(refresh, REFRESH_MS * 2);
      // Our own server-rendered, escaped HTML; a parsed document runs no script.
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const kept = remember();
      for (const part of document.querySelectorAll("[data-live]")) {
        const replacement = fresh.getElementById(part.id);
        if (replacement) {
          restore(replacement, kept);
          part.replaceWith(document.adoptNode(replacement));
        }
      }
      if (document.querySelector("[data-refresh]")) setTimeout(refresh, REFRESH_MS);
    } catch (error) {
      setTimeout(refresh, REFRESH_MS * 2);  // the server is gone or restarting: keep trying, more slowly
    }
  }
  if (document.querySelector("[data-refresh]")) setTimeout(refresh, REFRESH_MS);
})();
