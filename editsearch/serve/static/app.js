// editsearch web page: plain JS over the JSON API. Catalog text is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null; // the edit open in the detail dialog

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
    detail = (await response.json()).error || detail;
  } catch (_) { /* not JSON */ }
  if (response.status === 401) detail = "This server needs a token: open it as /?token=YOUR_TOKEN.";
  if (response.status >= 500) detail = "Server error: " + detail;
  throw new Error(detail);
}

function filters(params) {
  const k = $("k").value.trim();
  if (k) params.append("k", k);
  const where = $("where").value.trim();
  if (where) params.append("where", where);
  const contains = $("contains").value.trim();
  if (contains) params.append("contains", contains);
  return params;
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

function card(result) {
  const node = el("article", "card");
  node.tabIndex = 0;
  node.dataset.id = result.id;
  const pair = el("div", "pair");
  pair.append(image(result.urls.before_thumb, "before"), el("span", "arrow", "→"), image(result.urls.after_thumb, "after"));
  const info = el("div", "info");
  const top = el("div", "row");
  top.append(el("span", "score", result.score.toFixed(3)), el("span", "id", "#" + result.id));
  info.append(top, el("p", "instruction", result.instruction || "(no instruction)"));
  node.append(pair, info);
  node.addEventListener("click", () => openEdit(result));
  node.addEventListener("keydown", (e) => { if (e.key === "Enter") openEdit(result); });
  return node;
}

function show(data, label) {
  const grid = $("results");
  grid.replaceChildren();
  const results = data.results || [];
  if (!results.length) {
    say($("message"), "No edits match " + label + ". Try other words, or fewer filters.", "empty");
    $("summary").textContent = "";
    return;
  }
  say($("message"), "");
  $("summary").textContent = results.length + " edits for " + label + " · " + data.ms + " ms";
  grid.append(...results.map(card));
}

async function run(label, promise) {
  $("results").setAttribute("aria-busy", "true");
  say($("message"), "Searching…", "busy");
  try {
    const response = await promise;
    show(await response.json(), label);
  } catch (err) {
    $("results").replaceChildren();
    $("summary").textContent = "";
    say($("message"), err.message, "error");
  } finally {
    $("results").removeAttribute("aria-busy");
  }
}

function searchText(event) {
  event.preventDefault();
  const text = $("q").value.trim();
  if (!text) {
    say($("message"), "Type what the edit does, e.g. “make it brighter”.", "error");
    return;
  }
  const params = filters(new URLSearchParams({ text }));
  history.replaceState(null, "", "?q=" + encodeURIComponent(text));
  run("“" + text + "”", call("/api/search?" + params));
}

function searchExample(event) {
  event.preventDefault();
  const before = $("ex-before").files[0];
  const after = $("ex-after").files[0];
  if (!before || !after) {
    say($("message"), "Choose both images of your example: before and after.", "error");
    return;
  }
  const form = new FormData();
  form.append("before", before);
  form.append("after", after);
  for (const [key, value] of filters(new URLSearchParams())) form.append(key, value);
  run("your example " + before.name + " → " + after.name, call("/api/search", { method: "POST", body: form }));
}

function openEdit(result) {
  current = result;
  $("d-title").textContent = result.instruction || "(no instruction)";
  $("d-before").src = result.urls.before_thumb.replace("size=256", "size=512");
  $("d-after").src = result.urls.after_thumb.replace("size=256", "size=512");
  const meta = { id: result.id, score: result.score, before: result.before, after: result.after, metadata: result.metadata };
  $("d-meta").textContent = JSON.stringify(meta, null, 2);
  $("apply-out").hidden = true;
  say($("apply-message"), "");
  $("apply-file").value = "";
  const dialog = $("detail");
  if (!dialog.open) dialog.showModal();
}

function moreLikeThis() {
  if (!current) return;
  const edit = current;
  $("detail").close();
  const params = filters(new URLSearchParams({ edit_id: edit.id }));
  run("edits like #" + edit.id, call("/api/search?" + params));
}

async function applyEdit() {
  const file = $("apply-file").files[0];
  if (!current) return;
  if (!file) {
    say($("apply-message"), "Choose a photo to apply the edit to.", "error");
    return;
  }
  const form = new FormData();
  form.append("edit_id", current.id);
  form.append("image", file);
  $("apply-run").disabled = true;
  say($("apply-message"), "Applying the edit…", "busy");
  try {
    const response = await call("/api/apply", { method: "POST", body: form });
    const blob = await response.blob();
    $("apply-in-img").src = URL.createObjectURL(file);
    $("apply-out-img").src = URL.createObjectURL(blob);
    const score = response.headers.get("X-EC2EC");
    $("apply-caption").textContent = "edited" + (score ? " · EC2EC " + Number(score).toFixed(3) : "");
    $("apply-out").hidden = false;
    say($("apply-message"), "");
  } catch (err) {
    say($("apply-message"), err.message, "error");
  } finally {
    $("apply-run").disabled = false;
  }
}

async function loadStats() {
  try {
    const stats = await (await call("/api/stats")).json();
    const index = stats.index;
    $("stats").textContent = index.edits.toLocaleString() + " edits · " + index.model + (index.trained ? "" : " (untrained)");
  } catch (err) {
    say($("message"), err.message, "error");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", searchText);
  $("example-form").addEventListener("submit", searchExample);
  $("more-like").addEventListener("click", moreLikeThis);
  $("apply-run").addEventListener("click", applyEdit);
  loadStats();
  const q = new URLSearchParams(location.search).get("q");
  if (q) {
    $("q").value = q;
    $("search-form").requestSubmit();
  }
});
