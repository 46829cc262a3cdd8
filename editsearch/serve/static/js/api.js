// Requests to the JSON API: one fetch that turns any failure into an Error with a message to show.

export function describe(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(describe).join("; ");
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => k + ": " + describe(v)).join("; ");
  return String(value);
}

export async function call(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw new Error("The server cannot be reached (" + err.message + ").");
  }
  if (response.ok) return response;
  let detail = response.status + " " + response.statusText;
  try {
    const body = await response.json();
    detail = describe(body.error || body.reason || body.detail || detail);
  } catch (_) { /* not JSON */ }
  if (response.status === 401) detail = "This server needs a token: open it as /?token=YOUR_TOKEN.";
  if (response.status >= 500) detail = "Server error: " + detail;
  throw new Error(detail);
}
