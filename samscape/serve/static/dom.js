// The page's elements and status lines.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Shows `text` in the status line `id`; `kind` ("", "ok", "warn", "error") is its CSS class. */
export function say(id, text, kind = "") {
  const el = $(id);
  el.textContent = text;
  el.className = `message ${kind}`;
}
