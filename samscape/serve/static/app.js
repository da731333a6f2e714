// The samscape browser app: a front end over the HTTP API; every algorithm runs on the server.
// This module wires the page's controls to the modules that own each concern, and exposes
// window.samscapeApp, the one handle for tests and benchmarks.
import { api } from "./api.js";
import * as copilot from "./copilot.js";
import { $, say } from "./dom.js";
import * as map from "./map.js";
import { parentOf } from "./paths.js";
import { openPicker } from "./picker.js";
import * as outputs from "./outputs.js";
import * as prompts from "./prompts.js";
import * as scene from "./scene.js";
import * as settings from "./settings.js";
import * as sources from "./sources.js";

/** What the page shows and does now, read only: `source`, `session` (the server's JSON, or null),
 * `loading`, `busy` (a prompt is being answered), `tool` ("fg", "bg", "box"), `previewIdle` (no
 * preview in flight or waiting), `map` (the ol.Map), and `layer(name)` (an ol layer: raster,
 * extent, chips, copilot, saved, preview, result, prompts). */
window.samscapeApp = Object.freeze({
  get source() { return scene.source(); },
  get session() { return scene.session(); },
  get loading() { return scene.loading(); },
  get busy() { return prompts.busy(); },
  get tool() { return prompts.tool(); },
  get previewIdle() { return prompts.previewIdle(); },
  get map() { return map.olMap(); },
  layer: (name) => map.layer(name),
});

// Where keys type text: shortcuts are left to them (not to radios, checkboxes or buttons).
const TYPING = "input:not([type=radio]):not([type=checkbox]):not([type=button]):not([type=submit])" +
               ":not([type=range]):not([type=color]), select, textarea, [contenteditable], dialog";

function onKey(event) {
  const target = event.target;
  if (target.closest && target.closest(TYPING)) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === "z") { event.preventDefault(); outputs.undoSave(); return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (key === "tab") { event.preventDefault(); prompts.nextTool(); }
  else if (key === "p") { if (!settings.togglePreview()) prompts.clearPreview(); }
  else if (key === "s") outputs.save();
  else if (key === "c") prompts.prompt("clear");
  else if (key === "z") prompts.prompt("undo");
}

async function optionsChanged() {
  settings.readForm();
  map.restyle();
  if (!settings.options().preview) prompts.clearPreview();
  const session = scene.session();
  if (session) {
    try { scene.drawSession(await api(`/api/sessions/${session.id}/options`, { method: "PUT", body: settings.vectorOptions() })); }
    catch (e) { say("prompt-status", e.message, "error"); }
  }
}

function wire() {
  settings.show();
  map.listen({ click: prompts.onClick, move: prompts.onMove, leave: prompts.clearPreview,
               boxDrag: prompts.onBoxDrag, boxEnd: prompts.setBox, extentEnd: copilot.extentDrawn });
  for (const input of document.querySelectorAll("#styles input, #styles select")) input.addEventListener("change", optionsChanged);
  $("reset-styles").onclick = () => {
    settings.reset();
    optionsChanged();
  };
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.onchange = sources.modeChanged;
  for (const radio of document.querySelectorAll("input[name=tool]")) radio.onchange = () => prompts.setTool(radio.value);
  $("enable").onchange = () => prompts.setEnabled($("enable").checked);
  $("load").onclick = sources.loadSource;
  $("source-path").addEventListener("keydown", (e) => { if (e.key === "Enter") sources.loadSource(); });
  $("zoom-to").onclick = () => { if (scene.source()) map.fit(scene.source().extent); };
  $("browse-source").onclick = () => openPicker("source");
  $("browse-output").onclick = () => openPicker("output", scene.source() && parentOf(scene.source().path));
  $("find-raster").onclick = () => { if (scene.source()) openPicker("raster", parentOf(scene.source().path)); };
  $("use-output").onclick = () => { const path = outputs.outputPath(); if (path) outputs.setOutput(path); };
  $("undo").onclick = () => prompts.prompt("undo");
  $("clear").onclick = () => prompts.prompt("clear");
  $("save").onclick = outputs.save;
  $("undo-save").onclick = outputs.undoSave;
  document.addEventListener("keydown", onKey);
  window.addEventListener("pagehide", sources.endSession);
  copilot.wire(sources.openFolder);
  prompts.updateInteractions();
}

async function start() {
  wire();
  try {
    const health = await api("/api/health");
    $("version").textContent = `v${health.version}`;
    await sources.loadModels();
    sources.modeChanged();
    if (await sources.reopenRemembered()) await outputs.reuseRemembered();
    else {
      const open = await api("/api/sources");
      if (open.sources.length) await sources.useSource(() => open.sources[0]);
      else say("source-status", "choose a feature folder (Browse…) and Load");
    }
  } catch (e) {
    say("source-status", e.message, "error");
  }
  document.body.dataset.ready = "1";
}

start();
