// The Problems view: the audit's flagged edits by check (GET /api/audit), and the header button's count.
import { call, describe } from "./api.js";
import { $, el, say } from "./dom.js";
import { card, run } from "./results.js";

export function showProblems(s) {
  const check = s.problems === "all" ? "" : "&check=" + encodeURIComponent(s.problems);
  return run("Problems", s, call("/api/audit?limit=60" + check), showFlagged);
}

function showFlagged(data) {
  const nodes = [];
  let flags = 0; // one per check that flags an edit: an edit failing two checks counts twice
  for (const [name, rows] of Object.entries(data.flagged)) {
    const info = data.checks[name] || {};
    const flagged = info.flagged ?? rows.length;
    const live = (data.live_flagged || {})[name] ?? rows.length;
    flags += flagged;
    const gone = flagged > live ? ", " + (flagged - live) + " of them no longer in the index" : "";
    const shown = (live > rows.length ? " (the worst " + rows.length + ")" : "") + gone;
    const over = typeof (info.threshold || {}).value === "number" ? ", score over " + info.threshold.value.toFixed(3) : "";
    nodes.push(el("h2", "problem-head", name + ": " + editCount(flagged) + " flagged" + over + shown));
    nodes.push(problemNote(info));
    nodes.push(...rows.map((r) => problemCard(r, info)));
  }
  $("results").replaceChildren(...nodes);
  const stale = data.stale ? "This audit is stale: " + data.stale_note : "";
  const none = flags ? "" : "The audit flags nothing.";
  say($("message"), [stale, none].filter(Boolean).join(" "), stale ? "note" : none ? "empty" : "");
  $("summary").textContent = "Problems · " + problemCounts(data, flags) + " · worst first by check";
}

function problemNote(info) {
  // what a flag of the check means, and whether the check can be trusted on this collection (and why)
  const note = el("p", "problem-note", info.explains ? "Flags: " + info.explains + "." : "");
  if (typeof info.reliable === "boolean") {
    const value = typeof info.reliability === "number" ? " (reliability " + info.reliability.toFixed(2) + ")" : "";
    const verdict = info.reliable ? "Reliable on this collection" : "Not reliable on this collection";
    const given = String((info.threshold || {}).how || "").startsWith("given");
    const flags = info.reliable ? "" : given ? ": its flags come from the threshold given alone" : ": it flags nothing";
    const why = info.why ? info.why[0].toUpperCase() + info.why.slice(1) + "." : "";
    note.append(" ", el("span", info.reliable ? "reliable" : "unreliable", verdict + value + flags + ". " + why));
  }
  return note;
}

function problemCounts(data, flags) {
  const checks = Object.keys(data.flagged);
  if (checks.length === 1) return checks[0] + ": " + flags + " of " + editCount(data.edits) + " flagged";
  const many = flags === 1 ? "1 flag" : flags + " flags";
  return data.flagged_any + " of " + editCount(data.edits) + " flagged · " + many + " (an edit can fail several checks)";
}

function editCount(n) {
  return n + (n === 1 ? " edit" : " edits");
}

function problemCard(r, checkInfo) {
  // a search card whose badge says which check flags the edit and its score against the threshold, plus what to do
  const score = typeof r.score === "number" ? r.score : 0;
  const node = card({ ...r, score });
  const threshold = (checkInfo.threshold || {}).value;
  const known = typeof threshold === "number";
  const badge = node.querySelector(".score");
  badge.textContent = r.check + " " + score.toFixed(3) + (known ? " > " + threshold.toFixed(3) : "");
  badge.title = r.check + " score " + score.toFixed(3) + (known ? ", over the threshold " + threshold.toFixed(3) : "");
  const info = node.querySelector(".info");
  for (const line of r.shows || []) info.append(el("p", "suggestion", line)); // what the check says beyond its score
  node.setAttribute("aria-label", (r.instruction || "edit #" + r.id) + ", flagged by " + badge.title);
  return node;
}

export async function loadProblems() {
  let response, data;
  try {
    response = await fetch("/api/audit?limit=1");
    if (response.ok || response.status === 409) data = await response.json();
  } catch (_) { return; }
  if (!data) return;
  const button = $("problems");
  if (response.ok) {
    button.textContent = "Problems: " + editCount(data.flagged_any ?? 0) + " flagged" + (data.stale ? " (stale)" : "");
    button.title = data.stale ? "This audit is stale: " + data.stale_note : "";
  } else { // the audit folder cannot be served: the view is off, and says why
    button.textContent = "Problems: off";
    button.title = describe(data.error || "the audit cannot be served");
  }
  button.hidden = false;
}
