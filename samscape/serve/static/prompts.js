// Prompting: the tool (foreground point, background point, box), clicks and boxes sent to the
// session, and the preview that follows the pointer.
import { api } from "./api.js";
import { $, say } from "./dom.js";
import { inDegrees, layer, readFeatures, render, replaceFeatures, setPrompting } from "./map.js";
import { withProgress } from "./progress.js";
import { drawSession, loading, session, source } from "./scene.js";
import { options } from "./settings.js";

const TOOLS = ["fg", "bg", "box"];
const prompting = { tool: "fg", enabled: true, busy: false };

// Preview: one request in flight, only the latest position waits; answers older than the last
// prompt change (seq) are dropped.
const PREVIEW_INTERVAL_MS = 40;
const preview = { seq: 0, busy: false, pending: null, last: 0 };

/** The tool: "fg", "bg" or "box". */
export const tool = () => prompting.tool;

/** Whether a prompt is being answered. */
export const busy = () => prompting.busy;

/** Whether no preview is in flight or waiting. */
export const previewIdle = () => !preview.busy && preview.pending === null;

/** The page as prompting allows now: the map's interactions, the tools and the buttons. */
export function updateInteractions() {
  const on = prompting.enabled && session() !== null;
  setPrompting(on, prompting.tool === "box");
  $("map").classList.toggle("prompting", on);
  document.querySelector(".tools").classList.toggle("disabled", !prompting.enabled);
  for (const id of ["undo", "clear", "save", "undo-save"]) $(id).disabled = session() === null;
  for (const id of ["use-output", "browse-output"]) $(id).disabled = session() === null;
  $("zoom-to").disabled = source() === null;
}

export function setTool(name) {
  prompting.tool = name;
  document.querySelector(`input[name=tool][value=${name}]`).checked = true;
  clearPreview();
  updateInteractions();
}

/** The tool after the current one, in the order of the form. */
export function nextTool() { setTool(TOOLS[(TOOLS.indexOf(prompting.tool) + 1) % TOOLS.length]); }

/** Prompting on or off (the "Enable prompting" switch). */
export function setEnabled(on) {
  prompting.enabled = on;
  clearPreview();
  updateInteractions();
}

/** POST `body` to the session's `path` (points, box, undo, clear) and draws the answer.
 * `started`: when the user acted (performance.now()); the time until the result is drawn is
 * left in body[data-prompt-ms] for the benchmark. */
export async function prompt(path, body, started = performance.now()) {
  if (!session() || prompting.busy || loading()) return;
  prompting.busy = true;
  preview.seq += 1;  // answers to earlier previews are stale now
  replaceFeatures("preview", []);
  try {
    drawSession(await withProgress(() => api(`/api/sessions/${session().id}/${path}`, { method: "POST", body }), body));
    render();
    document.body.dataset.promptMs = (performance.now() - started).toFixed(2);
  } catch (e) {
    say("prompt-status", e.message, "error");
  } finally {
    prompting.busy = false;
  }
}

/** A click on the map: a point of the tool's label. */
export function onClick(event) {
  if (!prompting.enabled || !session() || prompting.tool === "box") return;
  const [x, y] = event.coordinate;
  prompt("points", { x, y, label: prompting.tool === "fg" ? 1 : 0 }, event.originalEvent.timeStamp);
}

/** A box dragged on the map ([xmin, ymin, xmax, ymax]). */
export function setBox(box) {
  if (!prompting.enabled || !session()) return;
  prompt("box", { box });
}

/** A box being dragged: previewed in preview mode. */
export function onBoxDrag(box) {
  if (options().preview) requestPreview({ box });
}

/** The pointer moved: its coordinates shown, and previewed as a point in preview mode. */
export function onMove(event) {
  const [x, y] = event.coordinate;
  const digits = inDegrees() ? 6 : 1;
  $("cursor-info").textContent = `${x.toFixed(digits)}, ${y.toFixed(digits)} (${source() ? source().crs : ""})`;
  if (event.dragging || !options().preview || !prompting.enabled || !session() || prompting.tool === "box") return;
  if (!ol.extent.containsXY(source().extent, x, y)) { clearPreview(); return; }
  requestPreview({ x, y, label: prompting.tool === "fg" ? 1 : 0 });
}

function requestPreview(body) {
  preview.pending = body;
  pumpPreview();
}

async function pumpPreview() {
  if (preview.busy || !preview.pending || prompting.busy || !session()) return;
  const wait = preview.last + PREVIEW_INTERVAL_MS - performance.now();
  if (wait > 0) { setTimeout(pumpPreview, wait); return; }
  const body = preview.pending;
  preview.pending = null;
  preview.busy = true;
  preview.last = performance.now();
  const seq = ++preview.seq;
  try {
    const answer = await withProgress(() => api(`/api/sessions/${session().id}/preview`, { method: "POST", body }), body);
    if (seq === preview.seq && options().preview) {
      replaceFeatures("preview", readFeatures(answer));
      document.body.dataset.preview = answer ? answer.features.length : 0;
    }
  } catch (e) {
    /* a preview that fails (e.g. on nodata) leaves the last one shown */
  } finally {
    preview.busy = false;
    pumpPreview();
  }
}

/** The preview dropped, and any answer still on its way with it. */
export function clearPreview() {
  preview.pending = null;
  preview.seq += 1;
  if (layer("preview")) replaceFeatures("preview", []);
}
