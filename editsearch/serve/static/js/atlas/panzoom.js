// Moving about the map: drag to pan, the wheel or + and − to zoom, arrows to pan, 0 to fit; a click opens a point.
import { $ } from "../dom.js";
import { schedule } from "./draw.js";
import { canvases, fit, toData } from "./geometry.js";
import { hover, openPoint, pointerOf, showTip } from "./pointer.js";
import { atlas, dpr } from "./store.js";

function zoom(factor, sx, sy) {
  // zoom by `factor` keeping the data point under (sx, sy) (device px) in place
  const [x, y] = toData(sx, sy);
  const v = atlas.view;
  v.scale = Math.min(atlas.fitScale * 500, Math.max(atlas.fitScale / 4, v.scale * factor));
  const [nx, ny] = toData(sx, sy);
  v.cx += x - nx;
  v.cy += y - ny;
  schedule(true);
}

function pan(dx, dy) {
  atlas.view.cx -= dx / atlas.view.scale;
  atlas.view.cy += dy / atlas.view.scale;
  schedule(true);
}

export function resetView() {
  fit();
  schedule(true);
}

function onKey(e) {
  if (!atlas.view) return;
  const [base] = canvases(), step = 60 * dpr();
  const keys = {
    "+": () => zoom(1.4, base.width / 2, base.height / 2), "=": () => zoom(1.4, base.width / 2, base.height / 2),
    "-": () => zoom(1 / 1.4, base.width / 2, base.height / 2), "0": resetView,
    ArrowLeft: () => pan(step, 0), ArrowRight: () => pan(-step, 0),
    ArrowUp: () => pan(0, step), ArrowDown: () => pan(0, -step),
  };
  if (!keys[e.key]) return;
  e.preventDefault();
  keys[e.key]();
}

function onMove(e) {
  const drag = atlas.drag;
  if (!drag) return hover(e);
  const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
  if (!drag.moved && Math.hypot(dx, dy) < 4) return;
  drag.moved = true;
  drag.x = e.clientX;
  drag.y = e.clientY;
  showTip(-1);
  pan(dx * dpr(), dy * dpr());
}

export function wireCanvas() {
  const overlay = $("atlas-overlay");
  overlay.addEventListener("pointerdown", (e) => {
    if (!atlas.view) return;
    atlas.drag = { x: e.clientX, y: e.clientY, moved: false };
    overlay.setPointerCapture(e.pointerId);
  });
  overlay.addEventListener("pointermove", onMove);
  overlay.addEventListener("pointerup", (e) => {
    const drag = atlas.drag;
    atlas.drag = null;
    if (drag && !drag.moved) {
      hover(e);
      if (atlas.hover >= 0) openPoint(atlas.hover);
    }
  });
  overlay.addEventListener("pointerleave", () => {
    if (atlas.drag) return;
    atlas.hover = -1;
    showTip(-1);
    schedule(false);
  });
  overlay.addEventListener("wheel", (e) => {
    if (!atlas.view) return;
    e.preventDefault();
    const [mx, my] = pointerOf(e);
    zoom(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), mx, my);
  }, { passive: false });
  overlay.addEventListener("keydown", onKey);
}
