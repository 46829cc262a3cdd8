// The Atlas view: every mapped edit as a point on a canvas (GET /api/map), coloured by cluster, source or audit
// flag, with the cluster names; a hover shows the pair, a click opens the edit, a query highlights its results.
import { call } from "../api.js";
import { $, say } from "../dom.js";
import { openExample } from "../example.js";
import { run, searchOf, weakNote } from "../results.js";
import { currentQuery, navigate, readFilters, store } from "../state.js";
import { colourOptions, showLegend } from "./colours.js";
import { mapData } from "./data.js";
import { redraw, schedule } from "./draw.js";
import { resize, toPage, toScreen } from "./geometry.js";
import { resetView, wireCanvas } from "./panzoom.js";
import { atlas } from "./store.js";

async function load() {
  if (atlas.data) return atlas.data;
  if (!atlas.loading) {
    atlas.loading = (async () => {
      const json = await (await call("/api/map")).json();
      atlas.timing.fetched = performance.now();
      atlas.data = mapData(json);
      atlas.timing.parsed = performance.now();
      colourOptions();
      return atlas.data;
    })();
    atlas.loading.catch(() => { atlas.loading = null; }); // a failed load is tried again next time
  }
  return atlas.loading;
}

function summary() {
  const d = atlas.data;
  return "Atlas · " + d.n.toLocaleString() + " edits · " + d.clusters.length + " clusters";
}

export function atlasView(on) {
  if (on !== ($("atlas-toggle").getAttribute("aria-pressed") === "true")) openExample(false); // the search view's
  $("atlas").hidden = !on || !(atlas.data && atlas.data.n); // no frame until there is a map to show
  $("results").hidden = on;
  $("atlas-toggle").setAttribute("aria-pressed", String(on));
  if (on) return;
  atlas.hover = -1;
  atlas.hits = new Map();
  $("atlas-tip").hidden = true;
}

export async function showAtlas(s) {
  $("results").replaceChildren();
  $("summary").textContent = "";
  say($("message"), atlas.data ? "" : "Loading the map…", "busy");
  atlas.hits = new Map();
  try {
    await load();
  } catch (err) {
    if (store.state === s) say($("message"), err.message, "error");
    return;
  }
  if (store.state !== s) return;
  const d = atlas.data;
  $("atlas").hidden = !d.n;
  resize();
  showLegend();
  redraw();
  $("atlas-agreement").textContent = d.agreement;
  $("summary").textContent = summary();
  const notes = d.n ? d.notes : [...d.notes, "Nothing to show: index some edits, then run `editsearch map`."];
  say($("message"), notes.join(" "), notes.length ? "note" : "");
  const search = searchOf(s);
  if (search) run(search[0], s, search[1], highlight);
}

function highlight(data, label) {
  const results = data.results || [];
  atlas.hits = new Map(results.map((r) => [r.id, r]));
  schedule(true);
  const off = results.filter((r) => !atlas.data.index.has(r.id)).length;
  const where = off ? " (" + off + " of them not on the map: run `editsearch map` to place new edits)" : "";
  $("summary").textContent = summary() + " · " + results.length + " results for " + label + " highlighted" + where;
  if (!results.length) say($("message"), "No edits match " + label + ". Try other words, or fewer filters.", "empty");
  else if (data.weak_match) say($("message"), weakNote(data, label), "note weak");
  else say($("message"), "");
}

function exposeForTests() {
  window.editsearchAtlas = { // for tests and the benchmark: where a point is drawn, what was drawn, and when
    screenOf(id) {
      const i = atlas.data ? atlas.data.index.get(id) : undefined;
      if (i === undefined || !atlas.view) return null;
      const [x, y] = toPage(...toScreen(atlas.data.x[i], atlas.data.y[i]));
      return { x, y };
    },
    labels: () => atlas.labels.map(({ cluster, label, box }) =>
      ({ cluster, label, box: [...toPage(box[0], box[1]), ...toPage(box[2], box[3])] })), // box: page px
    timing: () => ({ ...atlas.timing }),
    redraw: () => redraw(true),
  };
}

export function wireAtlas() {
  $("atlas-toggle").addEventListener("click", () => {
    navigate({ ...(currentQuery() || {}), ...readFilters(), ...(store.state.atlas ? {} : { atlas: true }) });
  });
  $("atlas-colour").addEventListener("change", (e) => {
    atlas.colour = e.target.value;
    atlas.paint = null;
    if (!atlas.data) return;
    showLegend();
    schedule(true);
  });
  $("atlas-reset").addEventListener("click", resetView);
  wireCanvas();
  new ResizeObserver(() => { if (atlas.data && !$("atlas").hidden && resize()) schedule(true); }).observe($("atlas-wrap"));
  exposeForTests();
}
