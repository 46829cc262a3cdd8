// editsearch web page: plain JS over the JSON API. Text from the server is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const PROBLEMS = /^[a-z_]+$/; // the Problems view: "all" checks, or one by name (the server knows which there are)
const FACET_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/; // metadata keys offered as facets: plain names, valid in a JSON path
const pairs = new Map(); // uploaded example pairs of this page's history: id -> {before, after, thumbs}
const example = { before: null, after: null }; // the pair being prepared in the example panel
let facets = {}; // metadata key -> [{value, count}] from /api/facets
let state = {}; // the query on screen: {text | edit_id | pair+names, k, where, contains, meta: {key: value}}
let current = null; // the edit open in the dialog
let opener = null; // what gets the focus back when the dialog closes

// ---- small helpers -----------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function say(target, text, kind) {
  target.textContent = text || "";
  target.className = "message" + (kind ? " " + kind : "");
  target.hidden = !text;
}

function baseName(path) {
  return String(path || "").split(/[\\/]/).pop();
}

function describe(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(describe).join("; ");
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => k + ": " + describe(v)).join("; ");
  return String(value);
}

async function call(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw new Error("The server cannot be reached (" + err.message + ").");
  }
  if (response.ok) return response;
  let detail = response.status + " " + response.statusText;
  try {
    const body = await response.json();
    detail = describe(body.error || body.reason || body.detail || detail);
  } catch (_) { /* not JSON */ }
  if (response.status === 401) detail = "This server needs a token: open it as /?token=YOUR_TOKEN.";
  if (response.status >= 500) detail = "Server error: " + detail;
  throw new Error(detail);
}

function image(src, alt) {
  const img = el("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.alt = alt;
  img.src = src;
  img.addEventListener("error", () => img.classList.add("broken"));
  return img;
}

// ---- the query state: URL <-> state <-> page ---------------------------------------------------------

function toUrl(s) {
  const p = new URLSearchParams();
  if (s.text) p.set("text", s.text);
  if (s.edit_id !== undefined) p.set("edit_id", s.edit_id);
  if (s.pair !== undefined) p.set("example", "uploaded"); // the images themselves live in history.state only
  if (s.problems) p.set("problems", s.problems);
  if (s.atlas) p.set("view", "atlas");
  if (s.k && s.k !== $("k").defaultValue) p.set("k", s.k);
  if (s.contains) p.set("contains", s.contains);
  if (s.where) p.set("where", s.where);
  for (const [key, value] of Object.entries(s.meta || {})) p.set("meta." + key, value);
  const query = p.toString();
  return query ? "?" + query : location.pathname;
}

function fromUrl(search) {
  const p = new URLSearchParams(search);
  const s = { k: p.get("k") || "", where: p.get("where") || "", contains: p.get("contains") || "", meta: {} };
  const text = p.get("text") || p.get("q");
  if (text) s.text = text;
  if (/^\d+$/.test(p.get("edit_id") || "")) s.edit_id = Number(p.get("edit_id"));
  if (p.has("example")) s.pair = ""; // no pair has this id: the note asks for the images again
  if (PROBLEMS.test(p.get("problems") || "")) s.problems = p.get("problems");
  if (p.get("view") === "atlas") s.atlas = true;
  for (const [name, value] of p) if (name.startsWith("meta.") && FACET_KEY.test(name.slice(5))) s.meta[name.slice(5)] = value;
  return s;
}

function readFilters() {
  const meta = {};
  for (const select of $("facets").querySelectorAll("select")) if (select.value) meta[select.dataset.key] = select.value;
  return { k: $("k").value.trim(), where: $("where").value.trim(), contains: $("contains").value.trim(), meta };
}

function queryOf(s) {
  if (s.text) return { text: s.text };
  if (s.edit_id !== undefined) return { edit_id: s.edit_id };
  if (s.pair !== undefined) return { pair: s.pair, names: s.names };
  return {};
}

function viewOf(s) {
  return s.atlas ? { atlas: true } : {}; // the Atlas view stays on as queries and filters change
}

function currentQuery() {
  const text = $("q").value.trim();
  if (text) return { text };
  return $("chip").hidden ? null : queryOf(state);
}

function navigate(s) {
  const same = JSON.stringify(history.state) === JSON.stringify(s);
  history[same ? "replaceState" : "pushState"](s, "", toUrl(s));
  showState(s);
}

function showState(s) {
  state = s;
  if ($("detail").open) $("detail").close();
  $("q").value = s.text || "";
  $("k").value = s.k || $("k").defaultValue;
  $("where").value = s.where || "";
  $("contains").value = s.contains || "";
  if (s.where || s.contains) $("more").open = true;
  for (const select of $("facets").querySelectorAll("select")) setFacet(select, (s.meta || {})[select.dataset.key]);
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

// ---- searching ---------------------------------------------------------------------------------------

function sqlLiteral(key, value) {
  const entries = facets[key] || [];
  const known = entries.find((entry) => String(entry.value) === value);
  const numeric = entries.length && entries.every((e) => typeof e.value === "number") && Number.isFinite(Number(value));
  const typed = known ? known.value : numeric ? Number(value) : value;
  if (typeof typed === "number") return "= " + typed;
  if (typeof typed === "boolean") return "= " + (typed ? 1 : 0);
  return "= '" + String(typed).replaceAll("'", "''") + "'";
}

function composeWhere(s) {
  const parts = Object.entries(s.meta || {}).map(([key, value]) => `json_extract(metadata, '$.${key}') ${sqlLiteral(key, value)}`);
  if (s.where) parts.push(parts.length ? "(" + s.where + ")" : s.where);
  return parts.join(" AND ");
}

function filterParams(s, params) {
  params.append("k", s.k || $("k").defaultValue);
  const where = composeWhere(s);
  if (where) params.append("where", where);
  if (s.contains) params.append("contains", s.contains);
  return params;
}

function searchOf(s) {
  // the GET search of a text or edit-id query: [label, request], or null
  const term = s.text ? { text: s.text } : s.edit_id !== undefined ? { edit_id: s.edit_id } : null;
  if (!term) return null;
  const label = s.text ? "“" + s.text + "”" : "edits like #" + s.edit_id;
  return [label, call("/api/search?" + filterParams(s, new URLSearchParams(term)))];
}

function execute(s) {
  atlasView(Boolean(s.atlas));
  if (s.atlas) return showAtlas(s);
  if (s.problems) return showProblems(s);
  const search = searchOf(s);
  if (search) return run(search[0], s, search[1]);
  $("results").replaceChildren();
  $("summary").textContent = "";
  say($("message"), "");
  if (s.pair === undefined) return;
  const pair = pairs.get(s.pair);
  if (!pair) {
    openExample(true);
    say($("message"), "This address was a search by an uploaded example pair. The images are not kept in the address " +
      "or across reloads: drop your pair again to search.", "note");
    return;
  }
  const form = new FormData();
  form.append("before", pair.before);
  form.append("after", pair.after);
  for (const [key, value] of filterParams(s, new URLSearchParams())) form.append(key, value);
  run("your example " + pair.before.name + " → " + pair.after.name, s, call("/api/search", { method: "POST", body: form }));
}

function showProblems(s) {
  const check = s.problems === "all" ? "" : "&check=" + encodeURIComponent(s.problems);
  return run("Problems", s, call("/api/audit?limit=60" + check), showFlagged);
}

function showFlagged(data) {
  const nodes = [];
  let flags = 0; // one per check that flags an edit: an edit failing two checks counts twice
  for (const [name, rows] of Object.entries(data.flagged)) {
    const info = data.checks[name] || {};
    const flagged = info.flagged ?? rows.length;
    const live = (data.live_flagged || {})[name] ?? rows.length;
    flags += flagged;
    const gone = flagged > live ? ", " + (flagged - live) + " of them no longer in the index" : "";
    const shown = (live > rows.length ? " (the worst " + rows.length + ")" : "") + gone;
    const over = typeof (info.threshold || {}).value === "number" ? ", score over " + info.threshold.value.toFixed(3) : "";
    nodes.push(el("h2", "problem-head", name + ": " + editCount(flagged) + " flagged" + over + shown));
    nodes.push(problemNote(info));
    nodes.push(...rows.map((r) => problemCard(r, info)));
  }
  $("results").replaceChildren(...nodes);
  const stale = data.stale ? "This audit is stale: " + data.stale_note : "";
  const none = flags ? "" : "The audit flags nothing.";
  say($("message"), [stale, none].filter(Boolean).join(" "), stale ? "note" : none ? "empty" : "");
  $("summary").textContent = "Problems · " + problemCounts(data, flags) + " · worst first by check";
}

function problemNote(info) {
  // what a flag of the check means, and whether the check can be trusted on this collection (and why)
  const note = el("p", "problem-note", info.explains ? "Flags: " + info.explains + "." : "");
  if (typeof info.reliable === "boolean") {
    const value = typeof info.reliability === "number" ? " (reliability " + info.reliability.toFixed(2) + ")" : "";
    const verdict = info.reliable ? "Reliable on this collection" : "Not reliable on this collection";
    const given = String((info.threshold || {}).how || "").startsWith("given");
    const flags = info.reliable ? "" : given ? ": its flags come from the threshold given alone" : ": it flags nothing";
    const why = info.why ? info.why[0].toUpperCase() + info.why.slice(1) + "." : "";
    note.append(" ", el("span", info.reliable ? "reliable" : "unreliable", verdict + value + flags + ". " + why));
  }
  return note;
}

function problemCounts(data, flags) {
  const checks = Object.keys(data.flagged);
  if (checks.length === 1) return checks[0] + ": " + flags + " of " + editCount(data.edits) + " flagged";
  const many = flags === 1 ? "1 flag" : flags + " flags";
  return data.flagged_any + " of " + editCount(data.edits) + " flagged · " + many + " (an edit can fail several checks)";
}

function editCount(n) {
  return n + (n === 1 ? " edit" : " edits");
}

function problemCard(r, checkInfo) {
  // a search card whose badge says which check flags the edit and its score against the threshold, plus what to do
  const score = typeof r.score === "number" ? r.score : 0;
  const node = card({ ...r, score });
  const threshold = (checkInfo.threshold || {}).value;
  const known = typeof threshold === "number";
  const badge = node.querySelector(".score");
  badge.textContent = r.check + " " + score.toFixed(3) + (known ? " > " + threshold.toFixed(3) : "");
  badge.title = r.check + " score " + score.toFixed(3) + (known ? ", over the threshold " + threshold.toFixed(3) : "");
  const info = node.querySelector(".info");
  for (const line of r.shows || []) info.append(el("p", "suggestion", line)); // what the check says beyond its score
  node.setAttribute("aria-label", (r.instruction || "edit #" + r.id) + ", flagged by " + badge.title);
  return node;
}

async function loadProblems() {
  let response, data;
  try {
    response = await fetch("/api/audit?limit=1");
    if (response.ok || response.status === 409) data = await response.json();
  } catch (_) { return; }
  if (!data) return;
  const button = $("problems");
  if (response.ok) {
    button.textContent = "Problems: " + editCount(data.flagged_any ?? 0) + " flagged" + (data.stale ? " (stale)" : "");
    button.title = data.stale ? "This audit is stale: " + data.stale_note : "";
  } else { // the audit folder cannot be served: the view is off, and says why
    button.textContent = "Problems: off";
    button.title = describe(data.error || "the audit cannot be served");
  }
  button.hidden = false;
}

function filterLabel(s) {
  const parts = Object.entries(s.meta || {}).map(([key, value]) => key + " = " + value);
  if (s.contains) parts.push("contains “" + s.contains + "”");
  if (s.where) parts.push("where " + s.where);
  return parts.map((p) => " · " + p).join("");
}

async function run(label, s, promise, show = showResults) {
  $("results").setAttribute("aria-busy", "true");
  say($("message"), "Searching…", "busy");
  try {
    const data = await (await promise).json();
    if (state === s) show(data, label + filterLabel(s));
  } catch (err) {
    if (state !== s) return;
    $("results").replaceChildren();
    $("summary").textContent = "";
    say($("message"), err.message, "error");
  } finally {
    if (state === s) $("results").removeAttribute("aria-busy");
  }
}

function showResults(data, label) {
  const results = data.results || [];
  $("results").replaceChildren(...results.map(card));
  if (!results.length) {
    say($("message"), "No edits match " + label + ". Try other words, or fewer filters.", "empty");
    $("summary").textContent = "";
    return;
  }
  if (data.weak_match) {
    say($("message"), weakNote(data, label), "note weak");
  } else {
    say($("message"), "");
  }
  $("summary").textContent = results.length + " edits for " + label + " · " + data.ms + " ms";
}

function weakNote(data, label) {
  // the weak-match cue: of a text query, or of an example or edit-id query
  if (data.query && data.query.text && data.query.text.length) {
    return "Weak match: nothing here fits " + label + " better than instructions that fit none of this collection " +
      "usually do. Try other words, or search by example.";
  }
  return "Weak match for " + label + ": nothing here is much like it (nearly every edit here is closer to another).";
}

function card(result) {
  const node = el("article", "card");
  node.tabIndex = 0;
  node.setAttribute("role", "button");
  node.dataset.id = result.id;
  node.setAttribute("aria-label", (result.instruction || "edit #" + result.id) + ", score " + result.score.toFixed(3));
  const pair = el("div", "pair");
  pair.append(image(result.urls.before_thumb, "before"), el("span", "arrow", "→"), image(result.urls.after_thumb, "after"));
  const info = el("div", "info");
  const top = el("div", "row");
  top.append(el("span", "score", result.score.toFixed(3)), el("span", "id", "#" + result.id));
  info.append(top, el("p", "instruction", result.instruction || "(no instruction)"));
  node.append(pair, info);
  node.addEventListener("click", () => openEdit(result, node));
  node.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openEdit(result, node); } });
  return node;
}

// ---- search by example -------------------------------------------------------------------------------

function openExample(open) {
  $("example-form").hidden = !open;
  $("example-toggle").setAttribute("aria-expanded", String(open));
}

function setExample(side, file) {
  if (!file) return;
  example[side] = file;
  const preview = $("ex-" + side + "-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("ex-" + side + "-name").textContent = file.name;
  $("drop-" + side).classList.add("filled");
  say($("ex-message"), "");
}

function dropFiles(side, files) {
  const images = Array.from(files).filter((f) => !f.type || f.type.startsWith("image/"));
  if (!images.length) return say($("ex-message"), "Drop image files (PNG, JPEG, WebP…).", "error");
  if (images.length >= 2) {
    setExample("before", images[0]);
    setExample("after", images[1]);
  } else {
    setExample(side, images[0]);
  }
}

function wireDropZone(side) {
  const zone = $("drop-" + side);
  const over = (on) => (e) => { e.preventDefault(); zone.classList.toggle("over", on); };
  zone.addEventListener("dragenter", over(true));
  zone.addEventListener("dragover", over(true));
  zone.addEventListener("dragleave", over(false));
  zone.addEventListener("drop", (e) => { over(false)(e); e.stopPropagation(); dropFiles(side, e.dataTransfer.files); });
  $("ex-" + side).addEventListener("change", (e) => setExample(side, e.target.files[0]));
}

function dropOnPage(event) {
  if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
  event.preventDefault(); // never leave the page for a dropped file
  if (event.type !== "drop") return;
  openExample(true);
  dropFiles(example.before && !example.after ? "after" : "before", event.dataTransfer.files);
}

function submitExample(event) {
  event.preventDefault();
  const { before, after } = example;
  if (!before || !after) return say($("ex-message"), "Choose or drop both images of your example: before and after.", "error");
  const id = Date.now().toString(36) + Math.random().toString(36).slice(2); // unique across reloads too
  pairs.set(id, { before, after, thumbs: [URL.createObjectURL(before), URL.createObjectURL(after)] });
  navigate({ pair: id, names: [before.name, after.name], ...readFilters() });
}

// ---- facets and filters ------------------------------------------------------------------------------

function setFacet(select, value) {
  if (value && !Array.from(select.options).some((o) => o.value === value)) select.append(new Option(value, value));
  select.value = value || "";
}

function facetSelect(key, entries) {
  const label = el("label", "facet");
  const select = el("select");
  select.dataset.key = key;
  select.append(new Option("any " + key, ""));
  for (const entry of entries) select.append(new Option(String(entry.value) + " (" + entry.count + ")", String(entry.value)));
  select.addEventListener("change", () => navigate({ ...(currentQuery() || {}), ...readFilters(), ...viewOf(state) }));
  label.append(el("span", "facet-key", key), select);
  return label;
}

async function loadFacets() {
  let data;
  try {
    data = await (await call("/api/facets")).json();
  } catch (_) {
    return; // an older server without facets: the SQL box still filters
  }
  const scalar = (entry) => entry && entry.value !== null && typeof entry.value !== "object";
  for (const [key, entries] of Object.entries(data.metadata || {})) {
    if (FACET_KEY.test(key) && Array.isArray(entries)) facets[key] = entries.filter(scalar);
  }
  const keys = Object.keys(facets).filter((key) => facets[key].some((entry) => entry.count > 1)); // not ids
  $("facets").replaceChildren(el("span", "hint", "Filter:"), ...keys.map((key) => facetSelect(key, facets[key])));
  $("facets").hidden = !keys.length;
  if (Array.isArray(data.columns) && data.columns.length) {
    $("columns").textContent = "Columns: " + data.columns.join(", ") + ". Metadata: json_extract(metadata, '$.KEY').";
  }
}

// ---- the edit dialog ---------------------------------------------------------------------------------

function metaRows(metadata) {
  const entries = metaEntries(metadata || {}, "", 0);
  if (!entries.length) return [row("—", "no metadata")];
  return entries.map(([key, value]) => row(key, value));
}

const META_DEPTH = 6; // nesting shown as rows; anything deeper is one cell of JSON

// Metadata as [key, text] rows: a nested object's keys joined by dots as in json_extract paths (camera.lens),
// a list of plain values as one comma-separated cell, a list holding objects indexed (crops[0].x).
function metaEntries(value, key, depth) {
  const plain = (v) => (v === null || typeof v !== "object");
  const text = (v) => (v === null ? "null" : String(v));
  if (plain(value)) return [[key, text(value)]];
  if (depth >= META_DEPTH) return [[key, JSON.stringify(value)]];
  if (Array.isArray(value)) {
    if (!value.length) return [[key, "(empty list)"]];
    if (value.every(plain)) return [[key, value.map(text).join(", ")]];
    return value.flatMap((v, i) => metaEntries(v, `${key}[${i}]`, depth + 1));
  }
  const entries = Object.entries(value);
  if (!entries.length) return key ? [[key, "(empty)"]] : [];
  return entries.flatMap(([k, v]) => metaEntries(v, key ? `${key}.${k}` : k, depth + 1));
}

function row(key, value) {
  const tr = el("tr");
  const th = el("th");
  key.split(/(?<=\.)/).forEach((part, i) => th.append(...(i ? [el("wbr"), part] : [part]))); // may wrap after a dot
  th.scope = "row";
  tr.append(th, el("td", "", value));
  return tr;
}

function openEdit(result, from) {
  current = result;
  opener = from || null;
  const urls = result.urls;
  $("d-title").textContent = result.instruction || "(no instruction)";
  $("d-before").src = urls.before_thumb.replace("size=256", "size=512");
  $("d-after").src = urls.after_thumb.replace("size=256", "size=512");
  const parts = result.scores ? Object.entries(result.scores).filter(([, v]) => typeof v === "number") : [];
  const score = typeof result.score === "number" ? result.score.toFixed(3) : "—"; // an edit opened from the map has none
  $("d-score").textContent = score + parts.map(([k, v]) => " · " + k + " " + v.toFixed(3)).join("");
  $("d-id").textContent = "#" + result.id;
  $("d-source").textContent = result.source || "…";
  $("d-files").textContent = baseName(result.before) + " → " + baseName(result.after);
  $("d-meta").tBodies[0].replaceChildren(...metaRows(result.metadata));
  for (const side of ["before", "after"]) {
    const link = $("d-" + side + "-dl");
    link.href = urls[side + "_download"] || urls[side];
    link.download = "edit-" + result.id + "-" + side + ".png";
  }
  resetApply();
  if (!result.source) loadSource(result);
  if (!$("detail").open) $("detail").showModal();
}

async function loadSource(result) {
  try {
    const edit = await (await call(result.urls.edit)).json();
    if (current === result) $("d-source").textContent = edit.source || "—";
  } catch (_) {
    if (current === result) $("d-source").textContent = "—";
  }
}

function moreLikeThis() {
  if (!current) return;
  opener = null;
  navigate({ edit_id: current.id, ...readFilters(), ...viewOf(state) });
}

// ---- applying an edit --------------------------------------------------------------------------------

function resetApply() {
  $("apply-out").hidden = true;
  $("apply-note").hidden = true;
  $("apply-file").value = "";
  say($("apply-message"), "");
}

async function applyEdit() {
  const file = $("apply-file").files[0];
  if (!current) return;
  if (!file) return say($("apply-message"), "Choose a photo to apply the edit to.", "error");
  const edit = current;
  const form = new FormData();
  form.append("edit_id", edit.id);
  form.append("image", file);
  $("apply-run").disabled = true;
  say($("apply-message"), "Applying the edit…", "busy");
  try {
    const data = await (await call("/api/apply?format=json", { method: "POST", body: form })).json();
    if (current === edit) showApplied(file, data);
  } catch (err) {
    say($("apply-message"), err.message, "error");
  } finally {
    $("apply-run").disabled = false;
  }
}

function showApplied(file, data) {
  $("apply-in-img").src = URL.createObjectURL(file);
  $("apply-out-img").src = data.image;
  const score = Number(data.ec2ec);
  $("apply-caption").textContent = "edited" + (Number.isFinite(score) ? " · EC2EC " + score.toFixed(3) : "");
  const stem = baseName(file.name).replace(/\.[^.]*$/, "") || "image";
  $("apply-download").href = data.image;
  $("apply-download").download = stem + "-edit-" + current.id + ".png";
  const pipeline = data.pipeline || {};
  $("apply-note").hidden = pipeline.demonstration !== true;
  $("apply-note").textContent = "Made by " + (pipeline.name || "the demonstration pipeline") + ", a " +
    (pipeline.resolution || 64) + "-px demonstration model: it shows how applying works, not what a full model makes.";
  $("apply-out").hidden = false;
  say($("apply-message"), "");
}

// ---- start -------------------------------------------------------------------------------------------

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
    navigate({ ...query, ...readFilters(), ...viewOf(state) });
  });
  $("chip-clear").addEventListener("click", () => { $("chip").hidden = true; $("q").focus(); });
  $("example-toggle").addEventListener("click", () => {
    const open = $("example-form").hidden;
    if (open && state.atlas) navigate({ ...(currentQuery() || {}), ...readFilters() }); // the search view's panel
    openExample(open);
  });
  $("problems").addEventListener("click", () => navigate({ problems: "all", ...readFilters() }));
  $("example-form").addEventListener("submit", submitExample);
  wireDropZone("before");
  wireDropZone("after");
  document.addEventListener("dragover", dropOnPage);
  document.addEventListener("drop", dropOnPage);
  $("more-like").addEventListener("click", moreLikeThis);
  $("apply-run").addEventListener("click", applyEdit);
  $("detail").addEventListener("close", () => { if (opener) opener.focus(); });
  window.addEventListener("popstate", (e) => showState(e.state || fromUrl(location.search)));
}

document.addEventListener("DOMContentLoaded", async () => {
  wire();
  checkHealth();
  loadStats();
  await loadFacets();
  const s = history.state || fromUrl(location.search);
  history.replaceState(s, "", toUrl(s));
  showState(s);
});
