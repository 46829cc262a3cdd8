// Point colours by cluster, source or audit flag, and the legend of the colour mode.
// Cluster colours come with the map (/api/map: each cluster's `colour`, the `palette`), as `map --png` draws them.
import { $, el } from "../dom.js";
import { clusterName } from "./data.js";
import { atlas, LEGEND } from "./store.js";

const QUIET = "#d4d4d4"; // edits no audit check flags, when colouring by flag

function rgbOf(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function pointColour(d, i) {
  // [colour, layer]: layer-0 points are drawn first, under the others
  if (atlas.colour === "source") return [d.palette[d.source[i] % d.palette.length], 1];
  if (atlas.colour === "audit" && d.flags) {
    const f = d.flags[i];
    if (!f) return [QUIET, 0];
    return [d.audit.colours[31 - Math.clz32(f & -f)] || "#000000", 1]; // the first check that flags it
  }
  const c = d.cluster[i];
  return c < 0 ? [d.noise, 0] : [d.colours.get(c), 1];
}

export function paintOf(d) {
  const rgb = new Uint8Array(3 * d.n), layer = new Uint8Array(d.n), cache = new Map();
  let under = 0;
  for (let i = 0; i < d.n; i++) {
    const [hex, lay] = pointColour(d, i);
    if (!cache.has(hex)) cache.set(hex, rgbOf(hex));
    rgb.set(cache.get(hex), 3 * i);
    layer[i] = lay;
    under += lay === 0;
  }
  const order = new Int32Array(d.n);
  let low = 0, high = under;
  for (let i = 0; i < d.n; i++) order[layer[i] === 0 ? low++ : high++] = i;
  return { rgb, order };
}

export function colourOptions() {
  const select = $("atlas-colour");
  const audit = select.querySelector("option[value=audit]");
  if (atlas.data.audit && !audit) select.append(new Option("audit flag", "audit"));
  if (!atlas.data.audit && atlas.colour === "audit") atlas.colour = "cluster";
  select.value = atlas.colour;
}

function legendRows(d) {
  if (atlas.colour === "source") {
    const counts = new Array(d.sources.length).fill(0);
    for (let i = 0; i < d.n; i++) counts[d.source[i]]++;
    return d.sources.map((name, k) => [d.palette[k % d.palette.length], name || "(unknown)", counts[k]]);
  }
  if (atlas.colour === "audit" && d.flags) {
    const counts = d.audit.checks.map(() => 0);
    let clean = 0;
    for (let i = 0; i < d.n; i++) {
      const f = d.flags[i];
      if (!f) clean++;
      else counts[31 - Math.clz32(f & -f)]++;
    }
    const rows = d.audit.checks.map((check, k) => [d.audit.colours[k] || "#000000", check, counts[k]]);
    return [...rows, [QUIET, "not flagged", clean]];
  }
  const sorted = [...d.clusters].sort((a, b) => b.size - a.size || a.cluster - b.cluster);
  const rows = sorted.map((c) => [c.colour, clusterName(c), c.size]);
  const noise = d.n - d.clusters.reduce((sum, c) => sum + c.size, 0);
  return noise > 0 ? [...rows, [d.noise, "noise (no cluster)", noise]] : rows;
}

export function showLegend() {
  const rows = legendRows(atlas.data);
  const shown = rows.length > LEGEND + 1 ? rows.slice(0, LEGEND) : rows;
  const items = shown.map(([colour, text, count]) => {
    const item = el("li");
    const swatch = el("span", "swatch");
    swatch.style.background = colour;
    item.append(swatch, el("span", "legend-label", text), el("span", "legend-count", count.toLocaleString()));
    return item;
  });
  if (shown.length < rows.length) items.push(el("li", "legend-more", "… " + (rows.length - shown.length) + " more"));
  $("atlas-legend").replaceChildren(...items);
}
