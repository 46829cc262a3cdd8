// The metadata facets: one select per key of /api/facets; a choice is a meta.KEY=VALUE of the query state.
import { call } from "./api.js";
import { $, el } from "./dom.js";
import { currentQuery, FACET_KEY, navigate, readFilters, store, viewOf } from "./state.js";

const facets = {}; // metadata key -> [{value, count}] from /api/facets

export function setFacets(meta) {
  for (const select of $("facets").querySelectorAll("select")) setFacet(select, (meta || {})[select.dataset.key]);
}

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
  select.addEventListener("change", () => navigate({ ...(currentQuery() || {}), ...readFilters(), ...viewOf(store.state) }));
  label.append(el("span", "facet-key", key), select);
  return label;
}

export async function loadFacets() {
  let data;
  try {
    data = await (await call("/api/facets")).json();
  } catch (_) {
    return; // an older server without facets: the where box still filters
  }
  const scalar = (entry) => entry && entry.value !== null && typeof entry.value !== "object";
  for (const [key, entries] of Object.entries(data.metadata || {})) {
    if (FACET_KEY.test(key) && Array.isArray(entries)) facets[key] = entries.filter(scalar);
  }
  const keys = Object.keys(facets).filter((key) => facets[key].some((entry) => entry.count > 1)); // not ids
  $("facets").replaceChildren(el("span", "hint", "Filter:"), ...keys.map((key) => facetSelect(key, facets[key])));
  $("facets").hidden = !keys.length;
  if (Array.isArray(data.columns) && data.columns.length) {
    const meta = Object.keys(facets);
    $("columns").textContent = "Columns: " + data.columns.join(", ") + "." +
      (meta.length ? " Metadata (JSON in the column metadata) has the keys: " + meta.join(", ") + "." : "");
  }
}
