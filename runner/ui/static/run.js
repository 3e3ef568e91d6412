// The run page's live log: while the run is RUNNING, fetch the output written since the last
// byte shown and append it as text; once the run has ended, reload to show its final state.
"use strict";
(function () {
  const log = document.getElementById("log");
  if (!log || log.dataset.status !== "RUNNING") return;
  let offset = Number(log.dataset.offset);
  const atBottom = () => log.scrollTop + log.clientHeight >= log.scrollHeight - 4;

  async function poll() {
    let delay = 1000;
    try {
      const response = await fetch(log.dataset.source + "?offset=" + offset, {cache: "no-store"});
      if (response.ok) {
        const chunk = await response.json();
        const follow = atBottom();
        if (chunk.text) {
          log.append(chunk.text);  // a text node: log lines are never parsed as HTML
          log.classList.remove("empty");
          const empty = document.getElementById("log-empty");
          if (empty) empty.remove();
        }
        if (follow) log.scrollTop = log.scrollHeight;
        offset = chunk.next_offset;
        if (offset < chunk.size) delay = 0;  // more is waiting
        else if (chunk.status !== "RUNNING") return location.reload();
      }
    } catch (error) {
      delay = 3000;  // the server is gone or restarting: keep trying, more slowly
    }
    setTimeout(poll, delay);
  }
  setTimeout(poll, 1000);
})();
