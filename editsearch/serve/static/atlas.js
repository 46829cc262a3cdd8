// The Atlas view: every mapped edit as a point on a canvas (GET /api/map), coloured by cluster, source or audit
// flag, with the cluster names; a hover shows the pair, a click opens the edit, a query highlights its results.
// A plain script sharing app.js's globals ($, el, say, call, run, openEdit, navigate, ...). Text from the server
// reaches the page only through textContent, and the canvas only through fillText: never as HTML.
"use strict";

// Cluster colours come with the map (/api/map: each cluster's `colour`, the `palette`), as `map --png` draws them.
const ATLAS_CHECK_COLOURS = { noop: "#e8590c", mismatch: "#c92a2a", reversed: "#7048e8", duplicate: "#0c8599" };
const ATLAS_QUIET = "#d4d4d4"; // edits no audit check flags, when colouring by flag
const ATLAS_LABELS = 40; // cluster names drawn at most, largest clusters first, none overlapping
const ATLAS_LABEL_RINGS = 3; // a name goes beside its cluster's box, up to this many label heights further out
const ATLAS_LEGEND = 14; // legend rows before "N more"
const ATLAS_THUMB = 128; // hover thumbnail size (px)
const atlas = {
  data: null, // the parsed map (atlasData)
  loading: null, // the pending load
  colour: "cluster", // cluster | source | audit
  paint: null, // per-point colours and draw order for the colour mode
  hits: new Map(), // edit id -> search result highlighted on the map
  hover: -1, // index of the point under the pointer
  view: null, // {cx, cy, scale}: the data point at the canvas centre, device px per data unit
  fitScale: 1,
  drag: null,
  image: null,
  frame: 0,
  labels: [], // the cluster names drawn, for tests and tools
  texts: new Map(), // edit id -> instruction, for the hover card
  timer: 0,
  timing: {}, // ms since navigation: fetched, parsed, drawn (the first draw); for the benchmark
};

// ---- data ----------------------------------------------------------------------------------------------

// a cluster's name and, where its edits carry instructions, the share of them its top instruction group holds
const atlasClusterName = (c) => (c.label || "cluster " + c.cluster) + (c.purity == null ? "" : " · purity " + c.purity.toFixed(2));

function atlasData(json) {
  const p = json.points;
  const n = p.id.length;
  const d = {
    n, ids: p.id, x: Float32Array.from(p.x), y: Float32Array.from(p.y), cluster: Int32Array.from(p.cluster),
    source: Uint16Array.from(p.source || []), sources: json.sources || [], clusters: json.clusters || [],
    audit: json.audit || null, notes: json.notes || [], index: new Map(), names: new Map(), colours: new Map(),
    palette: json.palette, noise: json.noise_colour, agreement: json.agreement_line || "",
  };
  d.flags = d.audit ? Uint8Array.from(d.audit.flags) : null;
  for (let i = 0; i < n; i++) d.index.set(p.id[i], i);
  for (const c of d.clusters) { d.names.set(c.cluster, atlasClusterName(c)); d.colours.set(c.cluster, c.colour); }
  d.minX = d.minY = Infinity;
  d.maxX = d.maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    d.minX = Math.min(d.minX, d.x[i]); d.maxX = Math.max(d.maxX, d.x[i]);
    d.minY = Math.min(d.minY, d.y[i]); d.maxY = Math.max(d.maxY, d.y[i]);
  }
  if (!n) d.minX = d.maxX = d.minY = d.maxY = 0;
  d.grid = atlasGrid(d);
  return d;
}

function atlasGrid(d) {
  // a uniform grid over the points' bounds, points sorted by cell (counting sort): hover looks at nearby cells only
  const side = Math.max(1, Math.min(512, Math.ceil(Math.sqrt(d.n / 4))));
  const w = d.maxX - d.minX || 1, h = d.maxY - d.minY || 1;
  const cell = new Int32Array(d.n), start = new Int32Array(side * side + 1), items = new Int32Array(d.n);
  for (let i = 0; i < d.n; i++) {
    const gx = Math.min(side - 1, Math.floor(((d.x[i] - d.minX) / w) * side));
    const gy = Math.min(side - 1, Math.floor(((d.y[i] - d.minY) / h) * side));
    cell[i] = gy * side + gx;
    start[cell[i] + 1]++;
  }
  for (let c = 0; c < side * side; c++) start[c + 1] += start[c];
  const next = start.slice(0, side * side);
  for (let i = 0; i < d.n; i++) items[next[cell[i]]++] = i;
  return { side, cw: w / side, ch: h / side, start, items };
}

function atlasNearest(d, x, y, radius) {
  // the point nearest (x, y) within radius (data units), or -1
  const g = d.grid;
  const clamp = (v) => Math.max(0, Math.min(g.side - 1, v));
  const x0 = clamp(Math.floor((x - radius - d.minX) / g.cw)), x1 = clamp(Math.floor((x + radius - d.minX) / g.cw));
  const y0 = clamp(Math.floor((y - radius - d.minY) / g.ch)), y1 = clamp(Math.floor((y + radius - d.minY) / g.ch));
  let best = -1, bestD = radius * radius;
  for (let gy = y0; gy <= y1; gy++) {
    for (let gx = x0; gx <= x1; gx++) {
      const c = gy * g.side + gx;
      for (let k = g.start[c]; k < g.start[c + 1]; k++) {
        const i = g.items[k], dx = d.x[i] - x, dy = d.y[i] - y, dd = dx * dx + dy * dy;
        if (dd <= bestD) { best = i; bestD = dd; }
      }
    }
  }
  return best;
}

async function atlasLoad() {
  if (atlas.data) return atlas.data;
  if (!atlas.loading) {
    atlas.loading = (async () => {
      const json = await (await call("/api/map")).json();
      atlas.timing.fetched = performance.now();
      atlas.data = atlasData(json);
      atlas.timing.parsed = performance.now();
      atlasColourOptions();
      return atlas.data;
    })();
    atlas.loading.catch(() => { atlas.loading = null; }); // a failed load is tried again next time
  }
  return atlas.loading;
}

// ---- colours ---------------------------------------------------------------------------------------------

function atlasRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function atlasPointColour(d, i) {
  // [colour, layer]: layer-0 points are drawn first, under the others
  if (atlas.colour === "source") return [d.palette[d.source[i] % d.palette.length], 1];
  if (atlas.colour === "audit" && d.flags) {
    const f = d.flags[i];
    if (!f) return [ATLAS_QUIET, 0];
    const check = d.audit.checks[31 - Math.clz32(f & -f)];
    return [ATLAS_CHECK_COLOURS[check] || "#000000", 1];
  }
  const c = d.cluster[i];
  return c < 0 ? [d.noise, 0] : [d.colours.get(c), 1];
}

function atlasPaint(d) {
  const rgb = new Uint8Array(3 * d.n), layer = new Uint8Array(d.n), cache = new Map();
  let under = 0;
  for (let i = 0; i < d.n; i++) {
    const [hex, lay] = atlasPointColour(d, i);
    if (!cache.has(hex)) cache.set(hex, atlasRgb(hex));
    rgb.set(cache.get(hex), 3 * i);
    layer[i] = lay;
    under += lay === 0;
  }
  const order = new Int32Array(d.n);
  let low = 0, high = under;
  for (let i = 0; i < d.n; i++) order[layer[i] === 0 ? low++ : high++] = i;
  return { rgb, order };
}

// ---- drawing ---------------------------------------------------------------------------------------------

function atlasCanvases() {
  return [$("atlas-canvas"), $("atlas-overlay")];
}

function atlasResize() {
  const dpr = window.devicePixelRatio || 1;
  const box = $("atlas-wrap").getBoundingClientRect();
  if (!box.width || !box.height) return false; // hidden
  const w = Math.round(box.width * dpr), h = Math.round(box.height * dpr);
  const [base, overlay] = atlasCanvases();
  if (base.width === w && base.height === h && atlas.view) return false;
  const grow = w / base.width;
  for (const canvas of [base, overlay]) { canvas.width = w; canvas.height = h; }
  if (!atlas.view) return atlasFit() || true;
  atlas.view.scale *= grow; // the same part of the map stays in view, wider or narrower
  atlas.fitScale *= grow;
  return true;
}

function atlasFit() {
  const d = atlas.data, [base] = atlasCanvases();
  if (!d) return;
  const dx = d.maxX - d.minX, dy = d.maxY - d.minY;
  const scale = 0.9 * Math.min(base.width / (dx || 1), base.height / (dy || 1));
  atlas.fitScale = Number.isFinite(scale) && scale > 0 ? scale : 1;
  atlas.view = { cx: d.n ? (d.minX + d.maxX) / 2 : 0, cy: d.n ? (d.minY + d.maxY) / 2 : 0, scale: atlas.fitScale };
}

function atlasToScreen(x, y) {
  const [base] = atlasCanvases(), v = atlas.view;
  return [(x - v.cx) * v.scale + base.width / 2, (v.cy - y) * v.scale + base.height / 2];
}

function atlasToData(sx, sy) {
  const [base] = atlasCanvases(), v = atlas.view;
  return [(sx - base.width / 2) / v.scale + v.cx, v.cy - (sy - base.height / 2) / v.scale];
}

function atlasPointSize() {
  // device px: a point gets about a third of its share of the canvas, growing as the view zooms in
  const [base] = atlasCanvases(), dpr = window.devicePixelRatio || 1;
  const share = Math.sqrt((base.width * base.height) / Math.max(atlas.data.n, 1));
  const zoom = Math.sqrt(atlas.view.scale / atlas.fitScale);
  return Math.round(Math.max(2 * dpr, Math.min(10 * dpr, 0.6 * share * zoom)));
}

function atlasDisc(size, width) {
  // byte offsets (RGBA, row stride `width`) of a disc of `size` px from its top-left corner
  const out = [], r = size / 2;
  for (let dy = 0; dy < size; dy++) {
    for (let dx = 0; dx < size; dx++) {
      if (size < 4 || (dx + 0.5 - r) ** 2 + (dy + 0.5 - r) ** 2 <= r * r) out.push((dy * width + dx) * 4);
    }
  }
  return Int32Array.from(out);
}

function atlasDrawBase() {
  const d = atlas.data, [base] = atlasCanvases(), ctx = base.getContext("2d");
  const w = base.width, h = base.height;
  if (!atlas.image || atlas.image.width !== w || atlas.image.height !== h) atlas.image = ctx.createImageData(w, h);
  const px = atlas.image.data;
  px.fill(255);
  if (!atlas.paint) atlas.paint = atlasPaint(d);
  const { rgb, order } = atlas.paint;
  const size = atlasPointSize(), disc = atlasDisc(size, w), half = size / 2;
  const alpha = d.n > 20000 ? 0.55 : d.n > 2000 ? 0.75 : 0.9;
  const keep = atlas.hits.size ? 0.3 : 1; // with highlighted results, the other points fade
  const { cx, cy, scale } = atlas.view;
  for (let k = 0; k < d.n; k++) {
    const i = order[k];
    const sx = Math.round((d.x[i] - cx) * scale + w / 2 - half), sy = Math.round((cy - d.y[i]) * scale + h / 2 - half);
    if (sx < 0 || sy < 0 || sx + size > w || sy + size > h) continue;
    const r = 255 - (255 - rgb[3 * i]) * keep, g = 255 - (255 - rgb[3 * i + 1]) * keep, b = 255 - (255 - rgb[3 * i + 2]) * keep;
    const at = (sy * w + sx) * 4;
    for (let j = 0; j < disc.length; j++) {
      const o = at + disc[j];
      px[o] += (r - px[o]) * alpha;
      px[o + 1] += (g - px[o + 1]) * alpha;
      px[o + 2] += (b - px[o + 2]) * alpha;
    }
  }
  ctx.putImageData(atlas.image, 0, 0);
  atlasPlaceLabels(w, h);
}

function atlasLabelStyle(ctx) {
  const dpr = window.devicePixelRatio || 1;
  ctx.font = `600 ${Math.round(12 * dpr)}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.lineJoin = "round";
  ctx.lineWidth = 4 * dpr;
  ctx.strokeStyle = "rgba(255, 255, 255, 0.92)";
  ctx.fillStyle = "#1d1f24";
}

function atlasLabelSpots(c, box, half, tall, gap) {
  // where a cluster's name may go, nearest first: above, below, right and left of its box (covering none of its
  // points), then a label height further out, with a line from the name to the box
  const [cx, cy] = atlasToScreen(c.x, c.y), spots = [];
  for (let ring = 0; ring < ATLAS_LABEL_RINGS; ring++) {
    const out = gap + 2 * tall * ring;
    for (const [sx, sy, ex, ey] of [[cx, box[1] - out - tall, cx, box[1]], [cx, box[3] + out + tall, cx, box[3]],
      [box[2] + out + half, cy, box[2], cy], [box[0] - out - half, cy, box[0], cy]]) {
      const edge = [Math.min(Math.max(ex, sx - half), sx + half), Math.min(Math.max(ey, sy - tall), sy + tall)];
      spots.push({ sx, sy, box: [sx - half, sy - tall, sx + half, sy + tall], line: ring ? [...edge, ex, ey] : null });
    }
  }
  return spots;
}

function atlasPlaceLabels(w, h) {
  // cluster names, largest clusters first, each beside its cluster's box, inside the canvas, clear of the names
  // placed before it and, where it can be, of the other clusters' boxes
  const d = atlas.data, dpr = window.devicePixelRatio || 1, ctx = $("atlas-overlay").getContext("2d");
  atlasLabelStyle(ctx);
  const hit = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
  const boxes = d.clusters.map(({ box }) => [...atlasToScreen(box[0], box[3]), ...atlasToScreen(box[2], box[1])]);
  const placed = [], tall = 9 * dpr, gap = 3 * dpr + atlasPointSize() / 2; // clear of the points' discs
  const largest = [...d.clusters.keys()].sort((a, b) => d.clusters[b].size - d.clusters[a].size || a - b);
  for (const k of largest) {
    const c = d.clusters[k], text = c.label.length > 42 ? c.label.slice(0, 41) + "…" : c.label;
    if (placed.length >= ATLAS_LABELS) break;
    if (!text || !hit(boxes[k], [0, 0, w, h])) continue; // its cluster is out of view
    const spots = atlasLabelSpots(c, boxes[k], ctx.measureText(text).width / 2 + 4 * dpr, tall, gap).filter((s) =>
      s.box[0] >= 0 && s.box[1] >= 0 && s.box[2] <= w && s.box[3] <= h && !placed.some((p) => hit(s.box, p.box)));
    const spot = spots.find((s) => !boxes.some((b) => hit(s.box, b))) || spots[0];
    if (spot) placed.push({ ...spot, text, label: c.label, cluster: c.cluster, colour: c.colour });
  }
  atlas.labels = placed;
}

function atlasDrawOverlay() {
  const d = atlas.data, [, overlay] = atlasCanvases(), ctx = overlay.getContext("2d");
  const dpr = window.devicePixelRatio || 1, size = atlasPointSize();
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.lineWidth = 1.5 * dpr;
  for (const id of atlas.hits.keys()) {
    const i = d.index.get(id);
    if (i === undefined) continue;
    const [sx, sy] = atlasToScreen(d.x[i], d.y[i]);
    ctx.beginPath();
    ctx.arc(sx, sy, Math.max(size, 4 * dpr) / 2 + 2 * dpr, 0, 2 * Math.PI);
    ctx.fillStyle = "#3b5bdb";
    ctx.strokeStyle = "#ffffff";
    ctx.fill();
    ctx.stroke();
  }
  ctx.lineWidth = 1.5 * dpr;
  for (const { line, colour } of atlas.labels.filter((l) => l.line)) { // a name set apart: a line to its cluster
    ctx.strokeStyle = colour;
    ctx.beginPath();
    ctx.moveTo(line[0], line[1]);
    ctx.lineTo(line[2], line[3]);
    ctx.stroke();
  }
  atlasLabelStyle(ctx);
  for (const label of atlas.labels) {
    ctx.strokeText(label.text, label.sx, label.sy);
    ctx.fillText(label.text, label.sx, label.sy);
  }
  if (atlas.hover >= 0) {
    const [sx, sy] = atlasToScreen(d.x[atlas.hover], d.y[atlas.hover]);
    ctx.beginPath();
    ctx.arc(sx, sy, Math.max(size, 4 * dpr) / 2 + 5 * dpr, 0, 2 * Math.PI);
    ctx.lineWidth = 2.5 * dpr;
    ctx.strokeStyle = "#1d1f24";
    ctx.stroke();
  }
}

function atlasRedraw(baseToo = true) {
  if (!atlas.data || !atlas.view) return;
  if (baseToo) atlasDrawBase();
  atlasDrawOverlay();
  if (atlas.timing.drawn === undefined) {
    atlas.timing.drawn = performance.now();
    requestAnimationFrame(() => {
      atlas.timing.painted = performance.now();
      $("atlas-canvas").dataset.drawn = String(atlas.data.n);
    });
  }
}

function atlasSchedule(baseToo) {
  atlas.frameBase = atlas.frameBase || baseToo;
  if (atlas.frame) return;
  atlas.frame = requestAnimationFrame(() => {
    const both = atlas.frameBase;
    atlas.frame = 0;
    atlas.frameBase = false;
    atlasRedraw(both);
  });
}

// ---- the legend, the colour choice and the summary -------------------------------------------------------

function atlasColourOptions() {
  const select = $("atlas-colour");
  const audit = select.querySelector("option[value=audit]");
  if (atlas.data.audit && !audit) select.append(new Option("audit flag", "audit"));
  if (!atlas.data.audit && atlas.colour === "audit") atlas.colour = "cluster";
  select.value = atlas.colour;
}

function atlasLegendRows(d) {
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
    const rows = d.audit.checks.map((check, k) => [ATLAS_CHECK_COLOURS[check] || "#000000", check, counts[k]]);
    return [...rows, [ATLAS_QUIET, "not flagged", clean]];
  }
  const sorted = [...d.clusters].sort((a, b) => b.size - a.size || a.cluster - b.cluster);
  const rows = sorted.map((c) => [c.colour, atlasClusterName(c), c.size]);
  const noise = d.n - d.clusters.reduce((sum, c) => sum + c.size, 0);
  return noise > 0 ? [...rows, [d.noise, "noise (no cluster)", noise]] : rows;
}

function atlasLegend() {
  const rows = atlasLegendRows(atlas.data);
  const shown = rows.length > ATLAS_LEGEND + 1 ? rows.slice(0, ATLAS_LEGEND) : rows;
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

function atlasSummary() {
  const d = atlas.data;
  return "Atlas · " + d.n.toLocaleString() + " edits · " + d.clusters.length + " clusters";
}

// ---- hover and click -------------------------------------------------------------------------------------

function atlasPointer(event) {
  const rect = $("atlas-overlay").getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  return [(event.clientX - rect.left) * dpr, (event.clientY - rect.top) * dpr, event.clientX - rect.left, event.clientY - rect.top];
}

function atlasHover(event) {
  const d = atlas.data;
  if (!d || !atlas.view) return;
  const [mx, my, cssX, cssY] = atlasPointer(event);
  const [x, y] = atlasToData(mx, my);
  const radius = Math.max(atlasPointSize(), 8 * (window.devicePixelRatio || 1)) / atlas.view.scale;
  const i = atlasNearest(d, x, y, radius);
  if (i !== atlas.hover) {
    atlas.hover = i;
    atlasTip(i);
    atlasSchedule(false);
  }
  if (i >= 0) atlasPlaceTip(cssX, cssY);
}

function atlasTip(i) {
  const tip = $("atlas-tip");
  $("atlas-overlay").style.cursor = i >= 0 ? "pointer" : "";
  if (i < 0) {
    tip.hidden = true;
    delete tip.dataset.id;
    return;
  }
  const d = atlas.data, id = d.ids[i], hit = atlas.hits.get(id);
  tip.dataset.id = String(id);
  $("atlas-tip-before").src = "/api/edits/" + id + "/before?size=" + ATLAS_THUMB;
  $("atlas-tip-after").src = "/api/edits/" + id + "/after?size=" + ATLAS_THUMB;
  const cluster = d.cluster[i];
  $("atlas-tip-label").textContent = cluster < 0 ? "noise (no cluster)" : "cluster: " + (d.names.get(cluster) || cluster);
  $("atlas-tip-id").textContent = "#" + id + (hit ? " · result " + hit.rank + " · " + hit.score.toFixed(3) : "");
  const known = hit ? hit.instruction : atlas.texts.get(id);
  $("atlas-tip-text").textContent = known === undefined ? "" : known || "(no instruction)";
  tip.hidden = false;
  clearTimeout(atlas.timer);
  if (known === undefined) atlas.timer = setTimeout(() => atlasInstruction(id), 120);
}

async function atlasInstruction(id) {
  try {
    const edit = await (await call("/api/edits/" + id)).json();
    atlas.texts.set(id, edit.instruction);
    if ($("atlas-tip").dataset.id === String(id)) $("atlas-tip-text").textContent = edit.instruction || "(no instruction)";
  } catch (_) { /* removed since the map was read: the card keeps its label */ }
}

function atlasPlaceTip(x, y) {
  const tip = $("atlas-tip"), box = $("atlas-wrap").getBoundingClientRect();
  const left = x + 16 + tip.offsetWidth > box.width ? x - 16 - tip.offsetWidth : x + 16;
  const top = Math.min(Math.max(0, y - tip.offsetHeight / 2), Math.max(0, box.height - tip.offsetHeight));
  tip.style.left = Math.max(0, left) + "px";
  tip.style.top = top + "px";
}

function atlasOpen(i) {
  const id = atlas.data.ids[i], overlay = $("atlas-overlay"), hit = atlas.hits.get(id);
  if (hit) return openEdit(hit, overlay);
  call("/api/edits/" + id).then((r) => r.json()).then((edit) => openEdit(edit, overlay))
    .catch((err) => say($("message"), err.message, "error"));
}

// ---- pan and zoom ----------------------------------------------------------------------------------------

function atlasZoom(factor, sx, sy) {
  // zoom by `factor` keeping the data point under (sx, sy) (device px) in place
  const [x, y] = atlasToData(sx, sy);
  const v = atlas.view;
  v.scale = Math.min(atlas.fitScale * 500, Math.max(atlas.fitScale / 4, v.scale * factor));
  const [nx, ny] = atlasToData(sx, sy);
  v.cx += x - nx;
  v.cy += y - ny;
  atlasSchedule(true);
}

function atlasPan(dx, dy) {
  atlas.view.cx -= dx / atlas.view.scale;
  atlas.view.cy += dy / atlas.view.scale;
  atlasSchedule(true);
}

function atlasWireCanvas() {
  const overlay = $("atlas-overlay");
  overlay.addEventListener("pointerdown", (e) => {
    if (!atlas.view) return;
    atlas.drag = { x: e.clientX, y: e.clientY, moved: false };
    overlay.setPointerCapture(e.pointerId);
  });
  overlay.addEventListener("pointermove", (e) => {
    const drag = atlas.drag;
    if (!drag) return atlasHover(e);
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    drag.x = e.clientX;
    drag.y = e.clientY;
    atlasTip(-1);
    const dpr = window.devicePixelRatio || 1;
    atlasPan(dx * dpr, dy * dpr);
  });
  overlay.addEventListener("pointerup", (e) => {
    const drag = atlas.drag;
    atlas.drag = null;
    if (drag && !drag.moved) {
      atlasHover(e);
      if (atlas.hover >= 0) atlasOpen(atlas.hover);
    }
  });
  overlay.addEventListener("pointerleave", () => {
    if (atlas.drag) return;
    atlas.hover = -1;
    atlasTip(-1);
    atlasSchedule(false);
  });
  overlay.addEventListener("wheel", (e) => {
    if (!atlas.view) return;
    e.preventDefault();
    const [mx, my] = atlasPointer(e);
    atlasZoom(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), mx, my);
  }, { passive: false });
  overlay.addEventListener("keydown", atlasKey);
}

function atlasKey(e) {
  if (!atlas.view) return;
  const [base] = atlasCanvases(), step = 60 * (window.devicePixelRatio || 1);
  const keys = {
    "+": () => atlasZoom(1.4, base.width / 2, base.height / 2), "=": () => atlasZoom(1.4, base.width / 2, base.height / 2),
    "-": () => atlasZoom(1 / 1.4, base.width / 2, base.height / 2), "0": atlasReset,
    ArrowLeft: () => atlasPan(step, 0), ArrowRight: () => atlasPan(-step, 0),
    ArrowUp: () => atlasPan(0, step), ArrowDown: () => atlasPan(0, -step),
  };
  if (!keys[e.key]) return;
  e.preventDefault();
  keys[e.key]();
}

function atlasReset() {
  atlasFit();
  atlasSchedule(true);
}

// ---- the view ------------------------------------------------------------------------------------------

function atlasView(on) {
  if (on !== ($("atlas-toggle").getAttribute("aria-pressed") === "true")) openExample(false); // the search view's
  $("atlas").hidden = !on || !(atlas.data && atlas.data.n); // no frame until there is a map to show
  $("results").hidden = on;
  $("atlas-toggle").setAttribute("aria-pressed", String(on));
  if (on) return;
  atlas.hover = -1;
  atlas.hits = new Map();
  $("atlas-tip").hidden = true;
}

async function showAtlas(s) {
  $("results").replaceChildren();
  $("summary").textContent = "";
  say($("message"), atlas.data ? "" : "Loading the map…", "busy");
  atlas.hits = new Map();
  try {
    await atlasLoad();
  } catch (err) {
    if (state === s) say($("message"), err.message, "error");
    return;
  }
  if (state !== s) return;
  const d = atlas.data;
  $("atlas").hidden = !d.n;
  atlasResize();
  atlasLegend();
  atlasRedraw();
  $("atlas-agreement").textContent = d.agreement;
  $("summary").textContent = atlasSummary();
  const notes = d.n ? d.notes : [...d.notes, "Nothing to show: index some edits, then run `editsearch map`."];
  say($("message"), notes.join(" "), notes.length ? "note" : "");
  const search = searchOf(s);
  if (search) run(search[0], s, search[1], atlasHighlight);
}

function atlasHighlight(data, label) {
  const results = data.results || [];
  atlas.hits = new Map(results.map((r) => [r.id, r]));
  atlasSchedule(true);
  const off = results.filter((r) => !atlas.data.index.has(r.id)).length;
  const where = off ? " (" + off + " of them not on the map: run `editsearch map` to place new edits)" : "";
  $("summary").textContent = atlasSummary() + " · " + results.length + " results for " + label + " highlighted" + where;
  if (!results.length) say($("message"), "No edits match " + label + ". Try other words, or fewer filters.", "empty");
  else if (data.weak_match) say($("message"), weakNote(data, label), "note weak");
  else say($("message"), "");
}

function atlasWire() {
  $("atlas-toggle").addEventListener("click", () => {
    navigate({ ...(currentQuery() || {}), ...readFilters(), ...(state.atlas ? {} : { atlas: true }) });
  });
  $("atlas-colour").addEventListener("change", (e) => {
    atlas.colour = e.target.value;
    atlas.paint = null;
    if (!atlas.data) return;
    atlasLegend();
    atlasSchedule(true);
  });
  $("atlas-reset").addEventListener("click", atlasReset);
  atlasWireCanvas();
  new ResizeObserver(() => { if (atlas.data && !$("atlas").hidden && atlasResize()) atlasSchedule(true); }).observe($("atlas-wrap"));
  const page = (sx, sy) => { // device px on the canvas -> page px
    const rect = $("atlas-overlay").getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    return [rect.left + sx / dpr, rect.top + sy / dpr];
  };
  window.editsearchAtlas = { // for tests and the benchmark: where a point is drawn, what was drawn, and when
    screenOf(id) {
      const i = atlas.data ? atlas.data.index.get(id) : undefined;
      if (i === undefined || !atlas.view) return null;
      const [x, y] = page(...atlasToScreen(atlas.data.x[i], atlas.data.y[i]));
      return { x, y };
    },
    labels: () => atlas.labels.map(({ cluster, label, box }) =>
      ({ cluster, label, box: [...page(box[0], box[1]), ...page(box[2], box[3])] })), // box: page px
    timing: () => ({ ...atlas.timing }),
    redraw: () => atlasRedraw(true),
  };
}

atlasWire();
