// The edit dialog: the pair large, its facts and metadata as rows, downloads, and "More like this".
import { resetApply } from "./apply.js";
import { call } from "./api.js";
import { $, baseName, el } from "./dom.js";
import { navigate, readFilters, store, viewOf } from "./state.js";

const META_DEPTH = 6; // nesting shown as rows; anything deeper is one cell of JSON
let opener = null; // what gets the focus back when the dialog closes

function metaRows(metadata) {
  const entries = metaEntries(metadata || {}, "", 0);
  if (!entries.length) return [row("—", "no metadata")];
  return entries.map(([key, value]) => row(key, value));
}

// Metadata as [key, text] rows: a nested object's keys joined by dots (camera.lens), a list of plain values as
// one comma-separated cell, a list holding objects indexed (crops[0].x).
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

export function openEdit(result, from) {
  store.current = result;
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
    if (store.current === result) $("d-source").textContent = edit.source || "—";
  } catch (_) {
    if (store.current === result) $("d-source").textContent = "—";
  }
}

function moreLikeThis() {
  if (!store.current) return;
  opener = null;
  navigate({ edit_id: store.current.id, ...readFilters(), ...viewOf(store.state) });
}

export function wireDialog() {
  $("more-like").addEventListener("click", moreLikeThis);
  $("detail").addEventListener("close", () => { if (opener) opener.focus(); });
}
