// Hit-testing on the map: the point under the pointer, its hover card (the pair, the instruction), a click opens it.
import { call } from "../api.js";
import { openEdit } from "../dialog.js";
import { $, say } from "../dom.js";
import { nearest } from "./data.js";
import { schedule } from "./draw.js";
import { pointSize, toData } from "./geometry.js";
import { atlas, dpr, THUMB } from "./store.js";

export function pointerOf(event) {
  // [device x, device y, css x, css y] of a pointer event on the overlay
  const rect = $("atlas-overlay").getBoundingClientRect();
  const x = event.clientX - rect.left, y = event.clientY - rect.top;
  return [x * dpr(), y * dpr(), x, y];
}

export function hover(event) {
  const d = atlas.data;
  if (!d || !atlas.view) return;
  const [mx, my, cssX, cssY] = pointerOf(event);
  const [x, y] = toData(mx, my);
  const radius = Math.max(pointSize(), 8 * dpr()) / atlas.view.scale;
  const i = nearest(d, x, y, radius);
  if (i !== atlas.hover) {
    atlas.hover = i;
    showTip(i);
    schedule(false);
  }
  if (i >= 0) placeTip(cssX, cssY);
}

export function showTip(i) {
  const tip = $("atlas-tip");
  $("atlas-overlay").style.cursor = i >= 0 ? "pointer" : "";
  if (i < 0) {
    tip.hidden = true;
    delete tip.dataset.id;
    return;
  }
  const d = atlas.data, id = d.ids[i], hit = atlas.hits.get(id);
  tip.dataset.id = String(id);
  $("atlas-tip-before").src = "/api/edits/" + id + "/before?size=" + THUMB;
  $("atlas-tip-after").src = "/api/edits/" + id + "/after?size=" + THUMB;
  const cluster = d.cluster[i];
  $("atlas-tip-label").textContent = cluster < 0 ? "noise (no cluster)" : "cluster: " + (d.names.get(cluster) || cluster);
  $("atlas-tip-id").textContent = "#" + id + (hit ? " · result " + hit.rank + " · " + hit.score.toFixed(3) : "");
  const known = hit ? hit.instruction : atlas.texts.get(id);
  $("atlas-tip-text").textContent = known === undefined ? "" : known || "(no instruction)";
  tip.hidden = false;
  clearTimeout(atlas.timer);
  if (known === undefined) atlas.timer = setTimeout(() => loadInstruction(id), 120);
}

async function loadInstruction(id) {
  try {
    const edit = await (await call("/api/edits/" + id)).json();
    atlas.texts.set(id, edit.instruction);
    if ($("atlas-tip").dataset.id === String(id)) $("atlas-tip-text").textContent = edit.instruction || "(no instruction)";
  } catch (_) { /* removed since the map was read: the card keeps its label */ }
}

function placeTip(x, y) {
  const tip = $("atlas-tip"), box = $("atlas-wrap").getBoundingClientRect();
  const left = x + 16 + tip.offsetWidth > box.width ? x - 16 - tip.offsetWidth : x + 16;
  const top = Math.min(Math.max(0, y - tip.offsetHeight / 2), Math.max(0, box.height - tip.offsetHeight));
  tip.style.left = Math.max(0, left) + "px";
  tip.style.top = top + "px";
}

export function openPoint(i) {
  const id = atlas.data.ids[i], overlay = $("atlas-overlay"), hit = atlas.hits.get(id);
  if (hit) return openEdit(hit, overlay);
  call("/api/edits/" + id).then((r) => r.json()).then((edit) => openEdit(edit, overlay))
    .catch((err) => say($("message"), err.message, "error"));
}
