// Search by example: the before/after panel (files or a drop, anywhere on the page) and its POST search.
import { call } from "./api.js";
import { $, say } from "./dom.js";
import { filterParams, run } from "./results.js";
import { navigate, readFilters } from "./state.js";

export const pairs = new Map(); // uploaded example pairs of this page's history: id -> {before, after, thumbs}
const example = { before: null, after: null }; // the pair being prepared in the example panel

export function openExample(open) {
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

export function searchPair(s) {
  // the POST search of an uploaded pair, with the filters as form fields; or a note where the pair is gone
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

export function wireExample() {
  $("example-form").addEventListener("submit", submitExample);
  wireDropZone("before");
  wireDropZone("after");
  document.addEventListener("dragover", dropOnPage);
  document.addEventListener("drop", dropOnPage);
}
