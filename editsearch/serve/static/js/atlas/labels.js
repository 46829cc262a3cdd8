// The cluster names on the map: placed beside their clusters' boxes, largest first, never overlapping.
// Text from the server reaches the canvas only through fillText.
import { $ } from "../dom.js";
import { pointSize, toScreen } from "./geometry.js";
import { atlas, dpr, LABEL_RINGS, LABELS } from "./store.js";

export function labelStyle(ctx) {
  ctx.font = `600 ${Math.round(12 * dpr())}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.lineJoin = "round";
  ctx.lineWidth = 4 * dpr();
  ctx.strokeStyle = "rgba(255, 255, 255, 0.92)";
  ctx.fillStyle = "#1d1f24";
}

function labelSpots(c, box, half, tall, gap) {
  // where a cluster's name may go, nearest first: above, below, right and left of its box (covering none of its
  // points), then a label height further out, with a line from the name to the box
  const [cx, cy] = toScreen(c.x, c.y), spots = [];
  for (let ring = 0; ring < LABEL_RINGS; ring++) {
    const out = gap + 2 * tall * ring;
    for (const [sx, sy, ex, ey] of [[cx, box[1] - out - tall, cx, box[1]], [cx, box[3] + out + tall, cx, box[3]],
      [box[2] + out + half, cy, box[2], cy], [box[0] - out - half, cy, box[0], cy]]) {
      const edge = [Math.min(Math.max(ex, sx - half), sx + half), Math.min(Math.max(ey, sy - tall), sy + tall)];
      spots.push({ sx, sy, box: [sx - half, sy - tall, sx + half, sy + tall], line: ring ? [...edge, ex, ey] : null });
    }
  }
  return spots;
}

export function placeLabels(w, h) {
  // cluster names, largest clusters first, each beside its cluster's box, inside the canvas, clear of the names
  // placed before it and, where it can be, of the other clusters' boxes
  const d = atlas.data, ctx = $("atlas-overlay").getContext("2d");
  labelStyle(ctx);
  const hit = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
  const boxes = d.clusters.map(({ box }) => [...toScreen(box[0], box[3]), ...toScreen(box[2], box[1])]);
  const placed = [], tall = 9 * dpr(), gap = 3 * dpr() + pointSize() / 2; // clear of the points' discs
  const largest = [...d.clusters.keys()].sort((a, b) => d.clusters[b].size - d.clusters[a].size || a - b);
  for (const k of largest) {
    const c = d.clusters[k], text = c.label.length > 42 ? c.label.slice(0, 41) + "…" : c.label;
    if (placed.length >= LABELS) break;
    if (!text || !hit(boxes[k], [0, 0, w, h])) continue; // its cluster is out of view
    const spots = labelSpots(c, boxes[k], ctx.measureText(text).width / 2 + 4 * dpr(), tall, gap).filter((s) =>
      s.box[0] >= 0 && s.box[1] >= 0 && s.box[2] <= w && s.box[3] <= h && !placed.some((p) => hit(s.box, p.box)));
    const spot = spots.find((s) => !boxes.some((b) => hit(s.box, b))) || spots[0];
    if (spot) placed.push({ ...spot, text, label: c.label, cluster: c.cluster, colour: c.colour });
  }
  atlas.labels = placed;
}
