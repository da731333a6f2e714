// Styles and options, remembered by the browser (localStorage "samscape.settings") and shown in
// the "Styles and options" form; this module alone changes them.
import { $ } from "./dom.js";

const DEFAULT_STYLE = {
  pointSize: 7, fg: "#2ecc40", bg: "#ff4136", box: "#ff9800", result: "#00c8ff", preview: "#ffdc00",
  boundary: "#8a2be2", saved: "#ff00aa",
};
const DEFAULT_OPTIONS = { maxPolygonOnly: false, vectorize: "pixel", preview: false, boundary: false };
const STYLE_KEYS = Object.keys(DEFAULT_STYLE);
const OPTION_KEYS = { maxPolygonOnly: "checked", vectorize: "value", preview: "checked", boundary: "checked" };

const stored = JSON.parse(localStorage.getItem("samscape.settings") || "{}");
const settings = { style: { ...DEFAULT_STYLE, ...(stored.style || {}) },
                   options: { ...DEFAULT_OPTIONS, ...(stored.options || {}) } };

/** The colours (#rrggbb) and point size (px) of the map's layers; read only. */
export const style = () => settings.style;

/** maxPolygonOnly, vectorize ("pixel" or "simplified"), preview and boundary; read only. */
export const options = () => settings.options;

/** The options the server vectorises a session's mask with. */
export function vectorOptions() {
  return { max_polygon_only: settings.options.maxPolygonOnly, vectorize: settings.options.vectorize };
}

function remember() { localStorage.setItem("samscape.settings", JSON.stringify(settings)); }

/** Puts the settings in the form (and the box colour in the CSS variable --box). */
export function show() {
  for (const key of STYLE_KEYS) $(`style-${key}`).value = settings.style[key];
  for (const [key, prop] of Object.entries(OPTION_KEYS)) $(`opt-${key}`)[prop] = settings.options[key];
  document.documentElement.style.setProperty("--box", settings.style.box);
}

// The point size typed, within the field's bounds (the default for no number).
function pointSize() {
  const field = $("style-pointSize");
  const size = Math.round(Number(field.value)) || DEFAULT_STYLE.pointSize;
  return Math.min(Number(field.max), Math.max(Number(field.min), size));
}

/** Takes the settings from the form, remembers and shows them. */
export function readForm() {
  for (const [key, prop] of Object.entries(OPTION_KEYS)) settings.options[key] = $(`opt-${key}`)[prop];
  for (const key of STYLE_KEYS) settings.style[key] = key === "pointSize" ? pointSize() : $(`style-${key}`).value;
  remember();
  show();
}

/** Puts the defaults in the form (readForm then keeps them). */
export function reset() {
  settings.style = { ...DEFAULT_STYLE };
  settings.options = { ...DEFAULT_OPTIONS };
  show();
}

/** Turns preview mode on or off; returns whether it is on now. */
export function togglePreview() {
  settings.options.preview = !settings.options.preview;
  show();
  remember();
  return settings.options.preview;
}
