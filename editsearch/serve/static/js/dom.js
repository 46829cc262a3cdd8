// Small DOM helpers of the page. Text from the server is only ever set with textContent.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function say(target, text, kind) {
  target.textContent = text || "";
  target.className = "message" + (kind ? " " + kind : "");
  target.hidden = !text;
}

export function baseName(path) {
  return String(path || "").split(/[\\/]/).pop();
}

export function image(src, alt) {
  const img = el("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.alt = alt;
  img.src = src;
  img.addEventListener("error", () => img.classList.add("broken"));
  return img;
}
