// Applying the edit open in the dialog to the user's own photo (POST /api/apply?format=json).
import { call } from "./api.js";
import { $, baseName, say } from "./dom.js";
import { store } from "./state.js";

export function resetApply() {
  $("apply-out").hidden = true;
  $("apply-note").hidden = true;
  $("apply-file").value = "";
  say($("apply-message"), "");
}

async function applyEdit() {
  const file = $("apply-file").files[0];
  if (!store.current) return;
  if (!file) return say($("apply-message"), "Choose a photo to apply the edit to.", "error");
  const edit = store.current;
  const form = new FormData();
  form.append("edit_id", edit.id);
  form.append("image", file);
  $("apply-run").disabled = true;
  say($("apply-message"), "Applying the edit…", "busy");
  try {
    const data = await (await call("/api/apply?format=json", { method: "POST", body: form })).json();
    if (store.current === edit) showApplied(file, data);
  } catch (err) {
    say($("apply-message"), err.message, "error");
  } finally {
    $("apply-run").disabled = false;
  }
}

function showApplied(file, data) {
  $("apply-in-img").src = URL.createObjectURL(file);
  $("apply-out-img").src = data.image;
  const score = Number(data.ec2ec);
  $("apply-caption").textContent = "edited" + (Number.isFinite(score) ? " · EC2EC " + score.toFixed(3) : "");
  const stem = baseName(file.name).replace(/\.[^.]*$/, "") || "image";
  $("apply-download").href = data.image;
  $("apply-download").download = stem + "-edit-" + store.current.id + ".png";
  const pipeline = data.pipeline || {};
  $("apply-note").hidden = pipeline.demonstration !== true;
  $("apply-note").textContent = "Made by " + (pipeline.name || "the demonstration pipeline") + ", a " +
    (pipeline.resolution || 64) + "-px demonstration model: it shows how applying works, not what a full model makes.";
  $("apply-out").hidden = false;
  say($("apply-message"), "");
}

export function wireApply() {
  $("apply-run").addEventListener("click", applyEdit);
}
