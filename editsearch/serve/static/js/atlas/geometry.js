// The view on the map: canvas size, fitting, data <-> screen (device px) transforms, the point size.
import { $ } from "../dom.js";
import { atlas, dpr } from "./store.js";

export function canvases() {
  return [$("atlas-canvas"), $("atlas-overlay")];
}

export function resize() {
  const box = $("atlas-wrap").getBoundingClientRect();
  if (!box.width || !box.height) return false; // hidden
  const w = Math.round(box.width * dpr()), h = Math.round(box.height * dpr());
  const [base, overlay] = canvases();
  if (base.width === w && base.height === h && atlas.view) return false;
  const grow = w / base.width;
  for (const canvas of [base, overlay]) { canvas.width = w; canvas.height = h; }
  if (!atlas.view) return fit() || true;
  atlas.view.scale *= grow; // the same part of the map stays in view, wider or narrower
  atlas.fitScale *= grow;
  return true;
}

export function fit() {
  const d = atlas.data, [base] = canvases();
  if (!d) return;
  const dx = d.maxX - d.minX, dy = d.maxY - d.minY;
  const scale = 0.9 * Math.min(base.width / (dx || 1), base.height / (dy || 1));
  atlas.fitScale = Number.isFinite(scale) && scale > 0 ? scale : 1;
  atlas.view = { cx: d.n ? (d.minX + d.maxX) / 2 : 0, cy: d.n ? (d.minY + d.maxY) / 2 : 0, scale: atlas.fitScale };
}

export function toScreen(x, y) {
  const [base] = canvases(), v = atlas.view;
  return [(x - v.cx) * v.scale + base.width / 2, (v.cy - y) * v.scale + base.height / 2];
}

export function toData(sx, sy) {
  const [base] = canvases(), v = atlas.view;
  return [(sx - base.width / 2) / v.scale + v.cx, v.cy - (sy - base.height / 2) / v.scale];
}

export function pointSize() {
  // device px: a point gets about a third of its share of the canvas, growing as the view zooms in
  const [base] = canvases();
  const share = Math.sqrt((base.width * base.height) / Math.max(atlas.data.n, 1));
  const zoom = Math.sqrt(atlas.view.scale / atlas.fitScale);
  return Math.round(Math.max(2 * dpr(), Math.min(10 * dpr(), 0.6 * share * zoom)));
}

export function toPage(sx, sy) {
  // device px on the canvas -> page px
  const rect = $("atlas-overlay").getBoundingClientRect();
  return [rect.left + sx / dpr(), rect.top + sy / dpr()];
}
