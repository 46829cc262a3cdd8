// Searching and the result cards: the request of a query (facets as meta.KEY=VALUE parameters), its summary.
import { call } from "./api.js";
import { openEdit } from "./dialog.js";
import { $, el, image, say } from "./dom.js";
import { store } from "./state.js";

export function filterParams(s, params) {
  // k, the facets (meta.KEY=VALUE, bound by the server), the user's own `where` as typed, and `contains`
  params.append("k", s.k || $("k").defaultValue);
  for (const [key, value] of Object.entries(s.meta || {})) params.append("meta." + key, value);
  if (s.where) params.append("where", s.where);
  if (s.contains) params.append("contains", s.contains);
  return params;
}

export function searchOf(s) {
  // the GET search of a text or edit-id query: [label, request], or null
  const term = s.text ? { text: s.text } : s.edit_id !== undefined ? { edit_id: s.edit_id } : null;
  if (!term) return null;
  const label = s.text ? "“" + s.text + "”" : "edits like #" + s.edit_id;
  return [label, call("/api/search?" + filterParams(s, new URLSearchParams(term)))];
}

function filterLabel(s) {
  const parts = Object.entries(s.meta || {}).map(([key, value]) => key + " = " + value);
  if (s.contains) parts.push("contains “" + s.contains + "”");
  if (s.where) parts.push("where " + s.where);
  return parts.map((p) => " · " + p).join("");
}

export function clearResults() {
  $("results").replaceChildren();
  $("summary").textContent = "";
}

export async function run(label, s, promise, show = showResults) {
  $("results").setAttribute("aria-busy", "true");
  say($("message"), "Searching…", "busy");
  try {
    const data = await (await promise).json();
    if (store.state === s) show(data, label + filterLabel(s));
  } catch (err) {
    if (store.state !== s) return;
    clearResults();
    say($("message"), err.message, "error");
  } finally {
    if (store.state === s) $("results").removeAttribute("aria-busy");
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

export function weakNote(data, label) {
  // the weak-match cue: of a text query, or of an example or edit-id query
  if (data.query && data.query.text && data.query.text.length) {
    return "Weak match: nothing here fits " + label + " better than instructions that fit none of this collection " +
      "usually do. Try other words, or search by example.";
  }
  return "Weak match for " + label + ": nothing here is much like it (nearly every edit here is closer to another).";
}

export function card(result) {
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
