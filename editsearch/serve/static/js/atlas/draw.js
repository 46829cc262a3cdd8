// Drawing the map: the points on the base canvas (one ImageData), the overlay's highlights, names and hover ring.
import { $ } from "../dom.js";
import { paintOf } from "./colours.js";
import { canvases, pointSize, toScreen } from "./geometry.js";
import { labelStyle, placeLabels } from "./labels.js";
import { atlas, dpr } from "./store.js";

function disc(size, width) {
  // byte offsets (RGBA, row stride `width`) of a disc of `size` px from its top-left corner
  const out = [], r = size / 2;
  for (let dy = 0; dy < size; dy++) {
    for (let dx = 0; dx < size; dx++) {
      if (size < 4 || (dx + 0.5 - r) ** 2 + (dy + 0.5 - r) ** 2 <= r * r) out.push((dy * width + dx) * 4);
    }
  }
  return Int32Array.from(out);
}

function drawBase() {
  const d = atlas.data, [base] = canvases(), ctx = base.getContext("2d");
  const w = base.width, h = base.height;
  if (!atlas.image || atlas.image.width !== w || atlas.image.height !== h) atlas.image = ctx.createImageData(w, h);
  const px = atlas.image.data;
  px.fill(255);
  if (!atlas.paint) atlas.paint = paintOf(d);
  const { rgb, order } = atlas.paint;
  const size = pointSize(), offsets = disc(size, w), half = size / 2;
  const alpha = d.n > 20000 ? 0.55 : d.n > 2000 ? 0.75 : 0.9;
  const keep = atlas.hits.size ? 0.3 : 1; // with highlighted results, the other points fade
  const { cx, cy, scale } = atlas.view;
  for (let k = 0; k < d.n; k++) {
    const i = order[k];
    const sx = Math.round((d.x[i] - cx) * scale + w / 2 - half), sy = Math.round((cy - d.y[i]) * scale + h / 2 - half);
    if (sx < 0 || sy < 0 || sx + size > w || sy + size > h) continue;
    const r = 255 - (255 - rgb[3 * i]) * keep, g = 255 - (255 - rgb[3 * i + 1]) * keep, b = 255 - (255 - rgb[3 * i + 2]) * keep;
    const at = (sy * w + sx) * 4;
    for (let j = 0; j < offsets.length; j++) {
      const o = at + offsets[j];
      px[o] += (r - px[o]) * alpha;
      px[o + 1] += (g - px[o + 1]) * alpha;
      px[o + 2] += (b - px[o + 2]) * alpha;
    }
  }
  ctx.putImageData(atlas.image, 0, 0);
  placeLabels(w, h);
}

function drawOverlay() {
  const d = atlas.data, [, overlay] = canvases(), ctx = overlay.getContext("2d");
  const size = pointSize();
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.lineWidth = 1.5 * dpr();
  for (const id of atlas.hits.keys()) {
    const i = d.index.get(id);
    if (i === undefined) continue;
    const [sx, sy] = toScreen(d.x[i], d.y[i]);
    ctx.beginPath();
    ctx.arc(sx, sy, Math.max(size, 4 * dpr()) / 2 + 2 * dpr(), 0, 2 * Math.PI);
    ctx.fillStyle = "#3b5bdb";
    ctx.strokeStyle = "#ffffff";
    ctx.fill();
    ctx.stroke();
  }
  ctx.lineWidth = 1.5 * dpr();
  for (const { line, colour } of atlas.labels.filter((l) => l.line)) { // a name set apart: a line to its cluster
    ctx.strokeStyle = colour;
    ctx.beginPath();
    ctx.moveTo(line[0], line[1]);
    ctx.lineTo(line[2], line[3]);
    ctx.stroke();
  }
  labelStyle(ctx);
  for (const label of atlas.labels) {
    ctx.strokeText(label.text, label.sx, label.sy);
    ctx.fillText(label.text, label.sx, label.sy);
  }
  if (atlas.hover >= 0) {
    const [sx, sy] = toScreen(d.x[atlas.hover], d.y[atlas.hover]);
    ctx.beginPath();
    ctx.arc(sx, sy, Math.max(size, 4 * dpr()) / 2 + 5 * dpr(), 0, 2 * Math.PI);
    ctx.lineWidth = 2.5 * dpr();
    ctx.strokeStyle = "#1d1f24";
    ctx.stroke();
  }
}

export function redraw(baseToo = true) {
  if (!atlas.data || !atlas.view) return;
  if (baseToo) drawBase();
  drawOverlay();
  if (atlas.timing.drawn === undefined) {
    atlas.timing.drawn = performance.now();
    requestAnimationFrame(() => {
      atlas.timing.painted = performance.now();
      $("atlas-canvas").dataset.drawn = String(atlas.data.n);
    });
  }
}

export function schedule(baseToo) {
  // one redraw on the next frame; the base canvas too where any caller asked for it
  atlas.frameBase = atlas.frameBase || baseToo;
  if (atlas.frame) return;
  atlas.frame = requestAnimationFrame(() => {
    const both = atlas.frameBase;
    atlas.frame = 0;
    atlas.frameBase = false;
    redraw(both);
  });
}
