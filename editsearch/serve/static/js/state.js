// The query on screen and the page's history: URL <-> state <-> page. The one store the modules share.
import { $ } from "./dom.js";

const PROBLEMS = /^[a-z_]+$/; // the Problems view: "all" checks, or one by name (the server knows which there are)
export const FACET_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/; // metadata keys offered as facets: plain names

export const store = {
  state: {}, // the query on screen: {text | edit_id | pair+names, k, where, contains, meta: {key: value}, ...}
  current: null, // the edit open in the dialog
};

let show = () => {}; // what shows a state on the page (main.js)

export function onShow(fn) {
  show = fn;
}

export function toUrl(s) {
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

export function fromUrl(search) {
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

export function readFilters() {
  const meta = {};
  for (const select of $("facets").querySelectorAll("select")) if (select.value) meta[select.dataset.key] = select.value;
  return { k: $("k").value.trim(), where: $("where").value.trim(), contains: $("contains").value.trim(), meta };
}

export function queryOf(s) {
  if (s.text) return { text: s.text };
  if (s.edit_id !== undefined) return { edit_id: s.edit_id };
  if (s.pair !== undefined) return { pair: s.pair, names: s.names };
  return {};
}

export function viewOf(s) {
  return s.atlas ? { atlas: true } : {}; // the Atlas view stays on as queries and filters change
}

export function currentQuery() {
  const text = $("q").value.trim();
  if (text) return { text };
  return $("chip").hidden ? null : queryOf(store.state);
}

export function navigate(s) {
  const same = JSON.stringify(history.state) === JSON.stringify(s);
  history[same ? "replaceState" : "pushState"](s, "", toUrl(s));
  show(s);
}
