// Sources: the form (pre-encoded feature folder or live raster, model), loading a source with its
// session, and ending the session when the tab closes.
import { api, deleteOnExit } from "./api.js";
import { showChips } from "./chips.js";
import { $, say } from "./dom.js";
import { sourceShown } from "./copilot.js";
import { build } from "./map.js";
import { clearSaved, outputForSource } from "./outputs.js";
import { clearPreview, updateInteractions } from "./prompts.js";
import { drawSession, session, setLoading, setSource, showSourceStatus, source, superseded } from "./scene.js";
import { vectorOptions } from "./settings.js";

// What this tab opened, kept for a reload of the tab: the body that opens it again.
const REMEMBERED = "samscape.source";

// The models this server can use, as <option>s (fetched once at start).
const models = { options: "" };

// Loading is one state machine: each load has a number, and only the latest one may change the
// page. A newer load cancels the requests of an older one still running (and closes the source
// that older one opened, once it answers); a failed load leaves the shown scene as it is, puts
// the form back as that scene has it, and shows the error.
const loads = { seq: 0, controller: null };

/** The mode the form has: "pre-encoded" or "live". */
export function mode() { return document.querySelector("input[name=mode]:checked").value; }

/** Fills both model lists (Load's and the Copilot's) with the server's models; "demo" chosen. */
export async function loadModels() {
  const answer = await api("/api/models");
  models.options = answer.models.filter((m) => !m.test_only || m.id === "demo")
    .map((m) => `<option value="${m.id}">${m.id} (${m.status})</option>`).join("");
  $("model").innerHTML = $("cp-model").innerHTML = models.options;
  $("model").value = $("cp-model").value = "demo";
}

/** The form as the mode asks: a raster and a model when live, a feature folder otherwise. */
export function modeChanged() {
  const live = mode() === "live";
  $("path-label").textContent = live ? "Raster" : "Feature folder";
  $("source-path").placeholder = live ? "scene.tif" : "features/";
  $("model").disabled = !live;
  if (live && $("model").options.length <= 1 && models.options) {
    $("model").innerHTML = models.options;
    $("model").value = "demo";
  }
}

/** Loads what the form names. */
export async function loadSource() {
  const path = $("source-path").value.trim();
  if (!path) { say("source-status", `give a ${mode() === "live" ? "raster" : "feature folder"} first (Browse…)`, "error"); return; }
  const body = { path };
  if (mode() === "live") body.model = $("model").value;
  await useSource(() => api("/api/sources", { method: "POST", body }), true);
}

/** Opens and shows the feature folder at `path`. */
export function openFolder(path) {
  return useSource(() => api("/api/sources", { method: "POST", body: { path } }), true);
}

/** The shown feature folder opened again with the raster the user picked (the server checks its
 * fingerprint); a wrong one leaves the scene as it is and says why. */
export function findRaster(raster) {
  const folder = source().path;
  useSource(() => api("/api/sources", { method: "POST", body: { path: folder, raster } }), true);
}

/** Opens again the source this tab showed before a reload, if any; whether it is shown. */
export async function reopenRemembered() {
  let body = null;
  try { body = JSON.parse(sessionStorage.getItem(REMEMBERED)); } catch (e) { body = null; }
  if (!body) return false;
  await useSource(() => api("/api/sources", { method: "POST", body }), true);
  return source() !== null;
}

/** Shows the source `opening()` describes, with a new session. `opens`: whether it opens a new
 * source on the server (closed again if the load is superseded). No prompt is taken while loading. */
export async function useSource(opening, opens = false) {
  if (loads.controller) loads.controller.abort();
  const controller = new AbortController();
  const seq = ++loads.seq;
  const latest = () => seq === loads.seq;
  loads.controller = controller;
  setLoading(true);
  say("source-status", "loading…");
  let info = null, created = null;
  try {
    info = await opening();
    if (!latest()) throw superseded();
    const signal = controller.signal;
    const [chips, answer] = await Promise.all([
      api(`/api/sources/${info.id}/chips`, { signal }),
      api("/api/sessions", { method: "POST", body: { source: info.id, ...vectorOptions() }, signal })]);
    created = answer;
    if (!latest()) throw superseded();
    const previous = showSource(info, chips, created);
    // the old session goes first, so a layer only it held no longer keeps its CRS
    if (previous) await api(`/api/sessions/${previous.id}`, { method: "DELETE" }).catch(() => {});
    await outputForSource(info);
  } catch (e) {
    if (info && source() !== info) {  // never shown: forget what this load made
      if (created) api(`/api/sessions/${created.id}`, { method: "DELETE" }).catch(() => {});
      if (opens) api(`/api/sources/${info.id}`, { method: "DELETE" }).catch(() => {});
    }
    if (latest()) {
      if (source()) showForm(source());
      say("source-status", e.message, "error");
    }
  } finally {
    if (latest()) { setLoading(false); loads.controller = null; }
  }
}

// The form as the shown source has it: mode, path and model.
function showForm(info) {
  document.querySelector(`input[name=mode][value=${info.mode}]`).checked = true;
  modeChanged();
  $("source-path").value = info.path;
  if (info.mode === "pre-encoded") {
    $("model").innerHTML = `<option>${info.model}</option>`;
  } else {
    if (![...$("model").options].some((o) => o.value === info.model)) {
      $("model").insertAdjacentHTML("beforeend", `<option value="${info.model}">${info.model}</option>`);
    }
    $("model").value = info.model;
  }
}

// Shows a loaded source: nothing here waits on the server, so a load changes the page at once or
// not at all. Returns the session it replaces, for the caller to end.
function showSource(info, chips, created) {
  const previous = session();
  setSource(info);
  sessionStorage.setItem(REMEMBERED, JSON.stringify({
    path: info.path, ...(info.mode === "live" ? { model: info.model } : info.raster ? { raster: info.raster } : {}) }));
  clearPreview();
  showForm(info);
  build(info);
  sourceShown();
  showChips(info, chips);
  showSourceStatus(info);
  clearSaved();
  drawSession(created);
  updateInteractions();
  return previous;
}

/** Ends the shown session, so the server forgets it (and a layer only it held): for a closed tab. */
export function endSession() {
  if (session()) deleteOnExit(`/api/sessions/${session().id}`);
}
