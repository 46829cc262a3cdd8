// The map of /api/map as typed arrays, with a uniform grid over the points for hit-testing.

// a cluster's name and, where its edits carry instructions, the share of them its top instruction group holds
export const clusterName = (c) => (c.label || "cluster " + c.cluster) + (c.purity == null ? "" : " · purity " + c.purity.toFixed(2));

export function mapData(json) {
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
  for (const c of d.clusters) { d.names.set(c.cluster, clusterName(c)); d.colours.set(c.cluster, c.colour); }
  d.minX = d.minY = Infinity;
  d.maxX = d.maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    d.minX = Math.min(d.minX, d.x[i]); d.maxX = Math.max(d.maxX, d.x[i]);
    d.minY = Math.min(d.minY, d.y[i]); d.maxY = Math.max(d.maxY, d.y[i]);
  }
  if (!n) d.minX = d.maxX = d.minY = d.maxY = 0;
  d.grid = grid(d);
  return d;
}

function grid(d) {
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

export function nearest(d, x, y, radius) {
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
