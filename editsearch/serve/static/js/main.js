// editsearch web page: plain JS modules over the JSON API, no build step. This entry shows a query state on the
// page (the search view, Problems or the Atlas), wires the page's controls and starts it.
import { call, describe } from "./api.js";
import { wireApply } from "./apply.js";
import { atlasView, showAtlas, wireAtlas } from "./atlas/view.js";
import { wireDialog } from "./dialog.js";
import { $, say } from "./dom.js";
import { openExample, pairs, searchPair, wireExample } from "./example.js";
import { loadFacets, setFacets } from "./facets.js";
import { loadProblems, showProblems } from "./problems.js";
import { clearResults, run, searchOf } from "./results.js";
import { currentQuery, fromUrl, navigate, onShow, readFilters, store, toUrl, viewOf } from "./state.js";

function showState(s) {
  store.state = s;
  if ($("detail").open) $("detail").close();
  $("q").value = s.text || "";
  $("k").value = s.k || $("k").defaultValue;
  $("where").value = s.where || "";
  $("contains").value = s.contains || "";
  if (s.where || s.contains) $("more").open = true;
  setFacets(s.meta);
  showChip(s);
  execute(s);
}

function showChip(s) {
  const pair = pairs.get(s.pair);
  const chip = $("chip");
  chip.hidden = s.edit_id === undefined && !pair;
  if (chip.hidden) return;
  const thumb = (side) => "/api/edits/" + s.edit_id + "/" + side + "?size=128";
  $("chip-before").src = pair ? pair.thumbs[0] : thumb("before");
  $("chip-after").src = pair ? pair.thumbs[1] : thumb("after");
  $("chip-label").textContent = pair ? "your example" : "edits like #" + s.edit_id;
}

function execute(s) {
  atlasView(Boolean(s.atlas));
  if (s.atlas) return showAtlas(s);
  if (s.problems) return showProblems(s);
  const search = searchOf(s);
  if (search) return run(search[0], s, search[1]);
  clearResults();
  say($("message"), "");
  if (s.pair !== undefined) searchPair(s);
}

async function loadStats() {
  try {
    const { index, server } = await (await call("/api/stats")).json();
    $("stats").textContent = index.edits.toLocaleString() + " edits · " + index.model + (index.trained ? "" : " (untrained)");
    if (server.audit) loadProblems(); // served with --audit: the Problems view
  } catch (err) {
    say($("message"), err.message, "error");
  }
}

async function checkHealth() {
  let response;
  try {
    response = await fetch("/healthz");
  } catch (_) {
    return; // unreachable: every search says so
  }
  if (response.status !== 503) return;
  let body = {};
  try {
    body = await response.json();
  } catch (_) { /* not JSON */ }
  const reason = describe(body.reason || body.error || body.detail || body.message || "no reason given");
  $("banner").textContent = "This index cannot serve searches right now: " + reason;
  $("banner").hidden = false;
}

function wire() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = currentQuery();
    if (!query) return say($("message"), "Type what the edit does, e.g. “make it brighter”.", "error");
    navigate({ ...query, ...readFilters(), ...viewOf(store.state) });
  });
  $("chip-clear").addEventListener("click", () => { $("chip").hidden = true; $("q").focus(); });
  $("example-toggle").addEventListener("click", () => {
    const open = $("example-form").hidden;
    if (open && store.state.atlas) navigate({ ...(currentQuery() || {}), ...readFilters() }); // the search view's panel
    openExample(open);
  });
  $("problems").addEventListener("click", () => navigate({ problems: "all", ...readFilters() }));
  wireExample();
  wireDialog();
  wireApply();
  wireAtlas();
  window.addEventListener("popstate", (e) => showState(e.state || fromUrl(location.search)));
}

async function start() {
  onShow(showState);
  wire();
  checkHealth();
  loadStats();
  await loadFacets();
  const s = history.state || fromUrl(location.search);
  history.replaceState(s, "", toUrl(s));
  showState(s);
}

start();
