// The samscape browser app: a front end over the HTTP API; every algorithm runs on the server.
"use strict";

const $ = (id) => document.getElementById(id);

// ---- API -------------------------------------------------------------------------------------

const TOKEN = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("samscape.token");
if (TOKEN) sessionStorage.setItem("samscape.token", TOKEN);

class ApiError extends Error {}

// `signal`: an AbortSignal that cancels the request (a newer load supersedes an older one).
async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  const response = await fetch(path, { method, headers, signal,
                                       body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) throw new ApiError(data.detail || `${response.status} ${response.statusText}`);
  return data;
}

function withToken(url) {
  return TOKEN ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}` : url;
}

function say(id, text, kind = "") {
  const el = $(id);
  el.textContent = text;
  el.className = `message ${kind}`;
}

// ---- Styles and options (remembered by the browser) ------------------------------------------

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

function saveSettings() { localStorage.setItem("samscape.settings", JSON.stringify(settings)); }

function showSettings() {
  for (const key of STYLE_KEYS) $(`style-${key}`).value = settings.style[key];
  for (const [key, prop] of Object.entries(OPTION_KEYS)) $(`opt-${key}`)[prop] = settings.options[key];
  document.documentElement.style.setProperty("--box", settings.style.box);
}

// ---- Map -------------------------------------------------------------------------------------

const layers = {};
let map = null;

function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function polygonStyle(color, fill, dash) {
  return new ol.style.Style({
    stroke: new ol.style.Stroke({ color, width: 2, lineDash: dash }),
    fill: new ol.style.Fill({ color: rgba(color, fill) }),
  });
}

function promptStyle(feature) {
  const s = settings.style;
  if (feature.get("kind") === "box") return polygonStyle(s.box, 0.05, [6, 4]);
  const color = feature.get("label") === 1 ? s.fg : s.bg;
  return new ol.style.Style({ image: new ol.style.Circle({
    radius: s.pointSize, fill: new ol.style.Fill({ color }),
    stroke: new ol.style.Stroke({ color: "#ffffff", width: 2 }) }) });
}

function vectorLayer(name, style, zIndex) {
  const layer = new ol.layer.Vector({ source: new ol.source.Vector(), style, zIndex, properties: { name } });
  layers[name] = layer;
  return layer;
}

function projectionFor(info) {
  const known = ol.proj.get(info.crs);
  if (known && (info.crs === "EPSG:3857" || info.crs === "EPSG:4326")) return known;
  const code = `samscape:${info.id}`;
  proj4.defs(code, info.proj4);
  ol.proj.proj4.register(proj4);
  const projection = ol.proj.get(code);
  projection.setExtent(info.extent);
  return projection;
}

function buildMap(info) {
  const projection = projectionFor(info);
  const [xmin, ymin, xmax, ymax] = info.extent;
  const pad = Math.max(xmax - xmin, ymax - ymin);
  const view = new ol.View({ projection, extent: [xmin - pad, ymin - pad, xmax + pad, ymax + pad],
                             constrainOnlyCenter: true });
  const s = () => settings.style;
  const mapLayers = [];
  delete layers.raster;
  if (info.tiles) {
    const grid = new ol.tilegrid.TileGrid({ origin: info.tiles.origin, resolutions: info.tiles.resolutions,
                                            extent: info.tiles.extent, tileSize: info.tiles.size });
    layers.raster = new ol.layer.Tile({ source: new ol.source.TileImage({
      projection, tileGrid: grid, transition: 0,
      tileUrlFunction: ([z, x, y]) => withToken(`/api/sources/${info.id}/tiles/${z}/${x}/${y}.png`) }) });
    mapLayers.push(layers.raster);
  }
  mapLayers.push(
    vectorLayer("extent", () => new ol.style.Style({ stroke: new ol.style.Stroke({ color: "#3b4452", width: 1.5, lineDash: [8, 6] }) }), 1),
    vectorLayer("chips", () => polygonStyle(s().boundary, 0, [4, 4]), 2),
    vectorLayer("copilot", () => polygonStyle("#0b7285", 0.04), 2),
    vectorLayer("saved", () => polygonStyle(s().saved, 0.25), 3),
    vectorLayer("preview", () => polygonStyle(s().preview, 0.3), 4),
    vectorLayer("result", () => polygonStyle(s().result, 0.35), 5),
    vectorLayer("prompts", promptStyle, 6),
  );
  if (map) map.setTarget(null);
  map = new ol.Map({ target: "map", layers: mapLayers, view, controls: ol.control.defaults.defaults().extend([
    new ol.control.ScaleLine()]) });
  layers.extent.getSource().addFeature(new ol.Feature(ol.geom.Polygon.fromExtent(info.extent)));
  layers.chips.setVisible(settings.options.boundary);
  zoomTo();
  map.on("click", onClick);  // not singleclick, which waits 250 ms for a possible double click
  map.on("pointermove", onMove);
  map.getViewport().addEventListener("mouseleave", () => { clearPreview(); });
  dragBox = new ol.interaction.DragBox({ condition: ol.events.condition.always });
  dragBox.on("boxdrag", () => { if (settings.options.preview) requestPreview({ box: boxOf(dragBox.getGeometry()) }); });
  dragBox.on("boxend", () => setBox(boxOf(dragBox.getGeometry())));
  map.addInteraction(dragBox);
  extentBox = new ol.interaction.DragBox({ condition: ol.events.condition.always });
  extentBox.setActive(false);
  extentBox.on("boxend", () => {
    copilot.extent = extentBox.getGeometry().getExtent();
    extentBox.setActive(false);
    updateInteractions();
    replan();
  });
  map.addInteraction(extentBox);
  updateInteractions();
  if ($("copilot-details").open) replan();
}

function zoomTo() {
  if (map && state.source) map.getView().fit(state.source.extent, { padding: [20, 20, 20, 20] });
}

function boxOf(geometry) {
  return geometry.getExtent();
}

function readFeatures(collection) {
  return new ol.format.GeoJSON().readFeatures(collection || { type: "FeatureCollection", features: [] });
}

function replaceFeatures(name, features) {
  const source = layers[name].getSource();
  source.clear(true);
  source.addFeatures(features);
}

// ---- State -----------------------------------------------------------------------------------

const state = { source: null, session: null, tool: "fg", enabled: true, busy: false, loading: false };
let dragBox = null, extentBox = null;

function drawSession(session) {
  state.session = session;
  const prompts = session.points.map((p) => new ol.Feature({ geometry: new ol.geom.Point([p.x, p.y]), label: p.label }));
  if (session.box) prompts.push(new ol.Feature({ geometry: ol.geom.Polygon.fromExtent(session.box), kind: "box" }));
  replaceFeatures("prompts", prompts);
  replaceFeatures("result", readFeatures(session.result));
  const fg = session.points.filter((p) => p.label === 1).length;
  const bg = session.points.length - fg;
  const parts = [`${fg} foreground, ${bg} background${session.box ? ", 1 box" : ""}`];
  if (session.result) {
    const n = session.result.features.length;
    parts.push(`${n} polygon${n === 1 ? "" : "s"}, score ${session.result.score.toFixed(3)}`);
  }
  say("prompt-status", parts.join(" · "));
  document.body.dataset.polygons = session.result ? session.result.features.length : 0;
}

function updateInteractions() {
  const prompting = state.enabled && state.session !== null;
  if (dragBox) dragBox.setActive(prompting && state.tool === "box" && !(extentBox && extentBox.getActive()));
  if (map) map.getInteractions().forEach((i) => { if (i instanceof ol.interaction.DoubleClickZoom) i.setActive(!prompting); });
  $("map").classList.toggle("prompting", prompting);
  document.querySelector(".tools").classList.toggle("disabled", !state.enabled);
  for (const id of ["undo", "clear", "save", "undo-save"]) $(id).disabled = state.session === null;
  for (const id of ["use-output", "browse-output"]) $(id).disabled = state.session === null;
  $("zoom-to").disabled = state.source === null;
}

function setTool(tool) {
  state.tool = tool;
  document.querySelector(`input[name=tool][value=${tool}]`).checked = true;
  clearPreview();
  updateInteractions();
}

// ---- Live encoding progress ------------------------------------------------------------------

// `body`: the prompt about to be sent. A live source shows progress at once when the prompt
// touches a chip not encoded yet, and the polled count of chips encoded while it runs.
async function withProgress(work, body = {}) {
  if (!state.source || state.source.mode !== "live") return work();
  const bar = $("progress-bar");
  if (needsEncoding(body)) {
    bar.removeAttribute("value");  // indeterminate until the first count
    $("progress-text").textContent = "encoding chips…";
    $("progress").hidden = false;
  }
  let polling = true;
  const poll = async () => {
    while (polling) {
      try {
        const p = await api(`/api/sources/${state.source.id}/progress`);
        if (p.encoding && p.total && polling) {
          $("progress").hidden = false;
          bar.value = p.done / p.total;
          $("progress-text").textContent = `encoding chips ${p.done}/${p.total}`;
        }
      } catch (e) { /* the next poll will tell */ }
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  poll();
  try { return await work(); } finally {
    polling = false;
    $("progress").hidden = true;
    await refreshChips();
  }
}

function needsEncoding(body) {
  const chips = layers.chips.getSource();
  const touched = [];
  if (body.x !== undefined) touched.push(...chips.getFeaturesAtCoordinate([body.x, body.y]));
  if (body.box) chips.forEachFeatureIntersectingExtent(body.box, (f) => { touched.push(f); });
  return touched.some((f) => !f.get("encoded"));
}

// ---- Prompts ---------------------------------------------------------------------------------

// `started`: when the user acted (performance.now()); the time until the result is drawn is
// left in body[data-prompt-ms] for the benchmark.
async function prompt(path, body, started = performance.now()) {
  if (!state.session || state.busy || state.loading) return;
  state.busy = true;
  previewSeq += 1;  // answers to earlier previews are stale now
  replaceFeatures("preview", []);
  try {
    drawSession(await withProgress(() => api(`/api/sessions/${state.session.id}/${path}`, { method: "POST", body }), body));
    map.renderSync();
    document.body.dataset.promptMs = (performance.now() - started).toFixed(2);
  } catch (e) {
    say("prompt-status", e.message, "error");
  } finally {
    state.busy = false;
  }
}

function onClick(event) {
  if (!state.enabled || !state.session || state.tool === "box") return;
  const [x, y] = event.coordinate;
  prompt("points", { x, y, label: state.tool === "fg" ? 1 : 0 }, event.originalEvent.timeStamp);
}

function setBox(box) {
  if (!state.enabled || !state.session) return;
  prompt("box", { box });
}

function onMove(event) {
  const [x, y] = event.coordinate;
  const digits = map.getView().getProjection().getUnits() === "degrees" ? 6 : 1;
  $("cursor-info").textContent = `${x.toFixed(digits)}, ${y.toFixed(digits)} (${state.source ? state.source.crs : ""})`;
  if (event.dragging || !settings.options.preview || !state.enabled || !state.session || state.tool === "box") return;
  if (!ol.extent.containsXY(state.source.extent, x, y)) { clearPreview(); return; }
  requestPreview({ x, y, label: state.tool === "fg" ? 1 : 0 });
}

// Preview: one request in flight, only the latest position waits; answers older than the last
// prompt change are dropped.
const PREVIEW_INTERVAL_MS = 40;
let previewSeq = 0, previewBusy = false, previewPending = null, previewLast = 0;

function requestPreview(body) {
  previewPending = body;
  pumpPreview();
}

async function pumpPreview() {
  if (previewBusy || !previewPending || state.busy || !state.session) return;
  const wait = previewLast + PREVIEW_INTERVAL_MS - performance.now();
  if (wait > 0) { setTimeout(pumpPreview, wait); return; }
  const body = previewPending;
  previewPending = null;
  previewBusy = true;
  previewLast = performance.now();
  const seq = ++previewSeq;
  try {
    const answer = await withProgress(() => api(`/api/sessions/${state.session.id}/preview`, { method: "POST", body }), body);
    if (seq === previewSeq && settings.options.preview) {
      replaceFeatures("preview", readFeatures(answer));
      document.body.dataset.preview = answer ? answer.features.length : 0;
    }
  } catch (e) {
    /* a preview that fails (e.g. on nodata) leaves the last one shown */
  } finally {
    previewBusy = false;
    pumpPreview();
  }
}

function clearPreview() {
  previewPending = null;
  previewSeq += 1;
  if (layers.preview) replaceFeatures("preview", []);
}

async function save() {
  if (!state.session) return;
  if (!state.session.output) { say("output-status", "choose an output layer first (New file or Existing…)", "error"); return; }
  try {
    const saved = await api(`/api/sessions/${state.session.id}/save`, { method: "POST" });
    drawSession(saved.session);
    const into = saved.session.output_crs === saved.session.crs ? "" : `, reprojected into ${saved.session.output_crs}`;
    say("output-status", `saved ${saved.polygons} polygon${saved.polygons === 1 ? "" : "s"} to ` +
        `${baseName(saved.session.output)}${into}`, "ok");
    await refreshSaved();
  } catch (e) { say("output-status", e.message, "error"); }
}

async function undoSave() {
  if (!state.session) return;
  try {
    const undone = await api(`/api/sessions/${state.session.id}/undo-save`, { method: "POST" });
    drawSession(undone.session);
    say("output-status", `removed the last save (${undone.group_id.slice(-6)})`, "ok");
    await refreshSaved();
  } catch (e) { say("output-status", e.message, "error"); }
}

// ---- Sources, sessions, output layers --------------------------------------------------------

function mode() { return document.querySelector("input[name=mode]:checked").value; }

function baseName(path) { return path.split(/[\\/]/).pop(); }

async function loadSource() {
  const path = $("source-path").value.trim();
  if (!path) { say("source-status", `give a ${mode() === "live" ? "raster" : "feature folder"} first (Browse…)`, "error"); return; }
  const body = { path };
  if (mode() === "live") body.model = $("model").value;
  await useSource(() => api("/api/sources", { method: "POST", body }), true);
}

// Loading is one state machine: each load has a number, and only the latest one may change the
// page. A newer load cancels the requests of an older one still running (and closes the source
// that older one opened, once it answers); a failed load leaves the shown scene as it is, puts
// the form back as that scene has it, and shows the error.
const loading = { seq: 0, controller: null };

// `opening`: a function that returns the source's description; `opens`: whether it opens a new
// source on the server (closed again if the load is superseded). No prompt is taken while loading.
async function useSource(opening, opens = false) {
  if (loading.controller) loading.controller.abort();
  const controller = new AbortController();
  const seq = ++loading.seq;
  const latest = () => seq === loading.seq;
  loading.controller = controller;
  state.loading = true;
  say("source-status", "loading…");
  let info = null, session = null;
  try {
    info = await opening();
    if (!latest()) throw superseded();
    const signal = controller.signal;
    const [chips, created] = await Promise.all([
      api(`/api/sources/${info.id}/chips`, { signal }),
      api("/api/sessions", { method: "POST", body: { source: info.id, ...vectorOptions() }, signal })]);
    session = created;
    if (!latest()) throw superseded();
    const previous = showSource(info, chips, session);
    // the old session goes first, so a layer only it held no longer keeps its CRS
    if (previous) await api(`/api/sessions/${previous.id}`, { method: "DELETE" }).catch(() => {});
    await outputForSource(info);
  } catch (e) {
    if (info && state.source !== info) {  // never shown: forget what this load made
      if (session) api(`/api/sessions/${session.id}`, { method: "DELETE" }).catch(() => {});
      if (opens) api(`/api/sources/${info.id}`, { method: "DELETE" }).catch(() => {});
    }
    if (latest()) {
      if (state.source) showForm(state.source);
      say("source-status", e.message, "error");
    }
  } finally {
    if (latest()) { state.loading = false; loading.controller = null; }
  }
}

function superseded() { return new DOMException("a newer load or session took over", "AbortError"); }

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
function showSource(info, chips, session) {
  const previous = state.session;
  state.source = info;
  state.session = null;
  copilot.extent = copilot.plan = null;
  clearPreview();
  showForm(info);
  buildMap(info);
  replaceFeatures("chips", readFeatures(chips));
  info.encoded = chips.features.filter((f) => f.properties.encoded).length;
  sourceStatus(info);
  replaceFeatures("saved", []);
  $("saved").hidden = true;
  drawSession(session);
  updateInteractions();
  return previous;
}

// A closed tab ends its session, so the server forgets it (and a layer only it held).
function endSession() {
  if (!state.session) return;
  const headers = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
  fetch(`/api/sessions/${state.session.id}`, { method: "DELETE", headers, keepalive: true }).catch(() => {});
}

function vectorOptions() {
  return { max_polygon_only: settings.options.maxPolygonOnly, vectorize: settings.options.vectorize };
}

function sourceStatus(info) {
  const what = info.mode === "live" ? `live, ${info.encoded} of ${info.chips} chips encoded`
                                    : `${info.encoded} chips`;
  const loaded = `Loaded ${info.name}: ${what}, model ${info.model}, ${info.crs}`;
  const missing = info.mode === "pre-encoded" && !info.raster;
  $("find-raster").hidden = !missing;
  $("map-note").hidden = !missing;
  if (!missing) { say("source-status", loaded, "ok"); return; }
  $("map-note").textContent = `No image: ${info.name} was not found`;
  say("source-status", `${loaded}. Its raster ${info.name} was not found beside the feature folder ` +
      "(or it changed since encoding), so the map shows no image: use Find raster… to pick it.", "warn");
}

async function refreshChips() {
  if (!state.source) return;
  const chips = await api(`/api/sources/${state.source.id}/chips`);
  replaceFeatures("chips", readFeatures(chips));
  state.source.encoded = chips.features.filter((f) => f.properties.encoded).length;
  sourceStatus(state.source);
}

// Save to the layer at `path`, chosen by the user: kept whatever its CRS, with a clear word when
// polygons are reprojected into it.
async function setOutput(path) {
  try {
    showOutput(await putOutput(path));
  } catch (e) { if (e.name !== "AbortError") say("output-status", e.message, "error"); }
}

// Sets the shown session's layer; an AbortError if another session is shown by the time it answers.
async function putOutput(path) {
  const id = state.session.id;
  const stale = () => !state.session || state.session.id !== id;
  let session;
  try { session = await api(`/api/sessions/${id}/output`, { method: "PUT", body: { path } }); }
  catch (e) { throw stale() ? superseded() : e; }
  if (stale()) throw superseded();
  drawSession(session);
  await refreshSaved();
  return session;
}

function showOutput(session, note = "") {
  const where = `saving to ${baseName(session.output)} (${session.output_crs})`;
  if (session.output_crs === session.crs) say("output-status", note + where, note ? "warn" : "ok");
  else say("output-status", `${note}${where}; polygons are reprojected from ${session.crs} ` +
           "(area_m2 stays in square metres)", "warn");
}

// The output layer for a newly loaded source: the one the form names, unless that layer holds
// another CRS; then `<name>_<epsg>` beside it, and the user is told. A layer of another CRS is only
// kept when the user chooses it (setOutput), never silently on a change of source.
async function outputForSource(info) {
  const path = outputPath();
  if (!path) { say("output-status", "choose an output layer (New file or Existing…)"); return; }
  let session;
  try { session = await putOutput(path); } catch (e) {
    if (e.name === "AbortError") return;
    say("output-status", `${e.message}; choose another output layer (New file or Existing…)`, "error");
    return;
  }
  if (session.output_crs === info.crs) { showOutput(session); return; }
  const epsg = /^EPSG:(\d+)$/.exec(info.crs);
  const suffix = epsg ? epsg[1] : info.name.replace(/\.[^.]*$/, "").replace(/\W+/g, "_");
  const own = path.replace(/(\.[^./\\]+)$/, `_${suffix}$1`);
  const note = `${baseName(path)} is in ${session.output_crs} and this source in ${info.crs}: `;
  try { showOutput(await putOutput(own), note); } catch (e) {
    if (e.name === "AbortError") return;
    say("output-status", `${note}${baseName(own)} cannot be used either (${e.message}); choose an output layer`, "error");
  }
}

function outputPath() {
  const name = $("output-path").value.trim();
  const format = $("output-format").value;
  if (!name) return null;
  const folder = state.source ? parentOf(state.source.path) : "";
  const file = name.toLowerCase().endsWith(format) ? name : name.replace(/\.(gpkg|shp|geojson|fgb)$/i, "") + format;
  return file.includes("/") ? file : `${folder}/${file}`;
}

async function refreshSaved() {
  if (!state.session || !state.session.output) return;
  let collection;
  try { collection = await api(`/api/sessions/${state.session.id}/saved`); }
  catch (e) { collection = { type: "FeatureCollection", features: [] }; }
  replaceFeatures("saved", readFeatures(collection));
  const groups = new Map();
  for (const f of collection.features) {
    const g = groups.get(f.properties.group_id) || { polygons: 0, area: 0 };
    g.polygons += 1;
    g.area += f.properties.area_m2 ?? f.properties.area;
    groups.set(f.properties.group_id, g);
  }
  const rows = [...groups].reverse().map(([id, g]) =>
    `<tr><td title="${id}">${id.slice(-8)}</td><td>${g.polygons}</td><td>${g.area.toFixed(1)}</td></tr>`);
  $("saved-rows").innerHTML = rows.join("");
  $("saved").hidden = groups.size === 0;
  document.body.dataset.saved = groups.size;
  $("download").href = withToken(`/api/sessions/${state.session.id}/download`);
}

// ---- Folder picker ---------------------------------------------------------------------------

const SELECTABLE = { source: { "pre-encoded": ["features"], live: ["raster"] }, output: ["layer"], raster: ["raster"] };
const STATUS_OF = { output: "output-status", source: "source-status", raster: "source-status" };

// Icons of the picker's entries, drawn inline (an emoji may have no glyph in the system's fonts).
const ICONS = {
  folder: '<path d="M1.5 4V13h13V5.5H7.5L6 4z" fill="currentColor" fill-opacity=".25"/>',
  features: '<path d="M1.5 4V13h13V5.5H7.5L6 4z"/><path d="M5 7.5h6v4H5zM8 7.5v4M5 9.5h6"/>',
  raster: '<rect x="1.5" y="2.5" width="13" height="11" rx="1"/><path d="M1.5 11.5l4-4 3 3 2-2 4 4"/>' +
          '<circle cx="11" cy="5.5" r="1.2"/>',
  layer: '<path d="M8 2l6.5 3.5L8 9 1.5 5.5z" fill="currentColor" fill-opacity=".25"/><path d="M1.5 8.5L8 12l6.5-3.5"/>',
  file: '<path d="M3.5 1.5h6l3 3v10h-9z"/><path d="M9.5 1.5v3h3"/>',
};

function icon(kind) {
  return '<svg class="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" fill="none" ' +
         `stroke="currentColor" stroke-width="1.2" stroke-linejoin="round">${ICONS[kind] || ICONS.file}</svg>`;
}

function pickerTitle(purpose) {
  if (purpose === "output") return "Choose an output layer";
  if (purpose === "raster") return `Find ${state.source.name}, the raster of ${baseName(state.source.path)}`;
  return mode() === "live" ? "Choose a raster" : "Choose a feature folder";
}

async function openPicker(purpose, path) {
  const kinds = purpose === "source" ? SELECTABLE.source[mode()] : SELECTABLE[purpose];
  $("picker-title").textContent = pickerTitle(purpose);
  let listing;
  try { listing = await api(`/api/browse${path ? `?path=${encodeURIComponent(path)}` : ""}`); }
  catch (e) { say(STATUS_OF[purpose], e.message, "error"); return; }
  $("picker-path").textContent = listing.path;
  const list = $("picker-entries");
  list.innerHTML = "";
  const entries = listing.parent ? [{ name: "..", path: listing.parent, kind: "folder" }, ...listing.entries] : listing.entries;
  for (const entry of entries) {
    const li = document.createElement("li");
    const selectable = kinds.includes(entry.kind);
    li.innerHTML = `<span class="name">${icon(entry.kind)}<span></span></span>` +
                   `<span class="kind">${entry.kind === "features" ? "feature folder" : entry.kind}</span>`;
    li.querySelector(".name span").textContent = entry.name;
    li.dataset.kind = entry.kind;
    if (entry.kind === "folder") li.onclick = () => openPicker(purpose, entry.path);
    else if (selectable) li.onclick = () => { $("picker").close(); picked(purpose, entry.path); };
    else li.classList.add("unavailable");
    list.appendChild(li);
  }
  if (!$("picker").open) $("picker").showModal();
}

function picked(purpose, path) {
  if (purpose === "output") {
    const suffix = "." + path.split(".").pop().toLowerCase();
    $("output-path").value = path.replace(/\.[^.]*$/, "");
    if ([...$("output-format").options].some((o) => o.value === suffix)) $("output-format").value = suffix;
    setOutput(path);
  } else if (purpose === "raster") {
    findRaster(path);
  } else {
    $("source-path").value = path;
    loadSource();
  }
}

// The shown feature folder opened again with the raster the user picked (the server checks its
// fingerprint); a wrong one leaves the scene as it is and says why.
function findRaster(raster) {
  const folder = state.source.path;
  useSource(() => api("/api/sources", { method: "POST", body: { path: folder, raster } }), true);
}

function parentOf(path) { return path.replace(/[\\/][^\\/]*$/, ""); }

// ---- Encoder Copilot -------------------------------------------------------------------------

const copilot = { extent: null, plan: null, seq: 0, measured: new Set() };

function numbersIn(text) {
  return text.split(/[\s,]+/).filter(Boolean).map(Number);
}

function copilotBody(measure = false) {
  const low = $("cp-min").value, high = $("cp-max").value;
  return {
    raster: state.source.raster, model: $("cp-model").value, bands: numbersIn($("cp-bands").value),
    value_range: low !== "" && high !== "" ? [Number(low), Number(high)] : null,
    resolution_scale: Number($("cp-scale").value) || 1, overlap: Number($("cp-overlap").value) || 0,
    extent: copilot.extent, measure,
  };
}

function humanBytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${units[i]}`;
}

function humanSeconds(s) {
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

// The grid and the estimates for the current choices; a plan is measured once per model.
async function replan() {
  if (!state.source || !state.source.raster || !layers.copilot) {
    say("cp-summary", "load a raster in Live Encoding to plan its encoding");
    return;
  }
  const seq = ++copilot.seq;
  const measure = !copilot.measured.has($("cp-model").value);
  // the old text stays while planning, so nothing below it moves under the pointer
  if (measure || !copilot.plan) say("cp-summary", measure ? "planning and measuring this model on a few chips…" : "planning…");
  $("cp-summary").classList.add("pending");
  try {
    const plan = await api("/api/copilot/plan", { method: "POST", body: copilotBody(measure) });
    if (seq !== copilot.seq) return;
    copilot.plan = plan;
    copilot.measured.add($("cp-model").value);
    replaceFeatures("copilot", readFeatures(plan.grid));
    const e = plan.estimate;
    say("cp-summary", `${plan.chips} chips of ${plan.chip_size} px, stride ${plan.stride} px, range ` +
        `${plan.value_range.map((v) => +v.toFixed(3)).join("–")}` +
        (e ? ` · about ${humanBytes(e.disk_bytes)} and ${humanSeconds(e.seconds)} on this machine` : "") +
        (plan.grid ? "" : " (too many chips to draw)"), "ok");
    const json = JSON.stringify(plan.settings, null, 2);
    $("cp-export").href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
    document.body.dataset.copilotChips = plan.chips;
  } catch (e) {
    if (seq === copilot.seq) say("cp-summary", e.message, "error");
  } finally {
    if (seq === copilot.seq) $("cp-summary").classList.remove("pending");
  }
}

async function fromStatistics() {
  $("cp-min").value = $("cp-max").value = "";
  await replan();
  if (copilot.plan) [$("cp-min").value, $("cp-max").value] = copilot.plan.value_range.map((v) => +v.toFixed(6));
}

async function encodeNow() {
  if (!copilot.plan) { say("cp-status", "plan first: load a raster in Live Encoding", "error"); return; }
  const folder = parentOf(state.source.raster);
  const name = $("cp-out").value.trim();
  const out = name.includes("/") ? name : `${folder}/${name}`;
  let job;
  try { job = await api("/api/jobs/encode", { method: "POST", body: { ...copilotBody(), measure: undefined, out } }); }
  catch (e) { say("cp-status", e.message, "error"); return; }
  $("cp-encode").disabled = true;
  $("cp-progress").hidden = false;
  say("cp-status", "encoding…");
  while (job.state === "running") {
    await new Promise((r) => setTimeout(r, 300));
    job = await api(`/api/jobs/${job.id}`);
    $("cp-bar").value = job.total ? job.done / job.total : 0;
    $("cp-text").textContent = `${job.done}/${job.total} chips`;
  }
  $("cp-encode").disabled = false;
  $("cp-progress").hidden = true;
  if (job.state !== "done") { say("cp-status", job.error, "error"); return; }
  say("cp-status", `encoded ${job.encoded} chips in ${humanSeconds(job.seconds)}; loading them`, "ok");
  await useSource(() => api("/api/sources", { method: "POST", body: { path: job.out } }), true);
}

function wireCopilot() {
  for (const id of ["cp-model", "cp-bands", "cp-overlap", "cp-min", "cp-max", "cp-scale"]) $(id).addEventListener("change", replan);
  $("copilot-details").addEventListener("toggle", () => { if ($("copilot-details").open) replan(); });
  $("cp-stats").onclick = fromStatistics;
  $("cp-draw").onclick = () => { if (extentBox) { extentBox.setActive(true); updateInteractions(); say("cp-summary", "drag the extent on the map"); } };
  $("cp-whole").onclick = () => { copilot.extent = null; replan(); };
  $("cp-copy").onclick = async () => {
    if (!copilot.plan) return;
    try { await navigator.clipboard.writeText(JSON.stringify(copilot.plan.settings, null, 2)); say("cp-status", "settings copied", "ok"); }
    catch (e) { say("cp-status", "the browser refused the clipboard: use Export", "error"); }
  };
  $("cp-encode").onclick = encodeNow;
}

// ---- Controls and shortcuts ------------------------------------------------------------------

let modelOptions = "";  // the models this server can use, as <option>s (fetched once at start)

async function loadModels() {
  const { models } = await api("/api/models");
  modelOptions = models.filter((m) => !m.test_only || m.id === "demo")
    .map((m) => `<option value="${m.id}">${m.id} (${m.status})</option>`).join("");
  $("model").innerHTML = $("cp-model").innerHTML = modelOptions;
  $("model").value = $("cp-model").value = "demo";
}

function modeChanged() {
  const live = mode() === "live";
  $("path-label").textContent = live ? "Raster" : "Feature folder";
  $("source-path").placeholder = live ? "scene.tif" : "features/";
  $("model").disabled = !live;
  if (live && $("model").options.length <= 1 && modelOptions) {
    $("model").innerHTML = modelOptions;
    $("model").value = "demo";
  }
}

const TOOLS = ["fg", "bg", "box"];

function onKey(event) {
  const target = event.target;
  if (target.closest && target.closest("input, select, textarea, [contenteditable], dialog")) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === "z") { event.preventDefault(); undoSave(); return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (key === "tab") { event.preventDefault(); setTool(TOOLS[(TOOLS.indexOf(state.tool) + 1) % TOOLS.length]); }
  else if (key === "p") { settings.options.preview = !settings.options.preview; showSettings(); saveSettings(); if (!settings.options.preview) clearPreview(); }
  else if (key === "s") save();
  else if (key === "c") prompt("clear");
  else if (key === "z") prompt("undo");
}

async function optionsChanged() {
  for (const [key, prop] of Object.entries(OPTION_KEYS)) settings.options[key] = $(`opt-${key}`)[prop];
  for (const key of STYLE_KEYS) settings.style[key] = key === "pointSize" ? Number($(`style-${key}`).value) : $(`style-${key}`).value;
  saveSettings();
  showSettings();
  if (layers.chips) layers.chips.setVisible(settings.options.boundary);
  for (const layer of Object.values(layers)) layer.changed();
  if (!settings.options.preview) clearPreview();
  if (state.session) {
    try { drawSession(await api(`/api/sessions/${state.session.id}/options`, { method: "PUT", body: vectorOptions() })); }
    catch (e) { say("prompt-status", e.message, "error"); }
  }
}

function wire() {
  showSettings();
  for (const input of document.querySelectorAll("#styles input, #styles select")) input.addEventListener("change", optionsChanged);
  $("reset-styles").onclick = () => {
    settings.style = { ...DEFAULT_STYLE };
    settings.options = { ...DEFAULT_OPTIONS };
    showSettings();
    optionsChanged();
  };
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.onchange = modeChanged;
  for (const radio of document.querySelectorAll("input[name=tool]")) radio.onchange = () => setTool(radio.value);
  $("enable").onchange = () => { state.enabled = $("enable").checked; clearPreview(); updateInteractions(); };
  $("load").onclick = loadSource;
  $("source-path").addEventListener("keydown", (e) => { if (e.key === "Enter") loadSource(); });
  $("zoom-to").onclick = zoomTo;
  $("browse-source").onclick = () => openPicker("source");
  $("browse-output").onclick = () => openPicker("output", state.source && parentOf(state.source.path));
  $("find-raster").onclick = () => { if (state.source) openPicker("raster", parentOf(state.source.path)); };
  $("use-output").onclick = () => { const path = outputPath(); if (path) setOutput(path); };
  $("undo").onclick = () => prompt("undo");
  $("clear").onclick = () => prompt("clear");
  $("save").onclick = save;
  $("undo-save").onclick = undoSave;
  document.addEventListener("keydown", onKey);
  addEventListener("pagehide", endSession);
  wireCopilot();
  updateInteractions();
}

async function start() {
  wire();
  try {
    const health = await api("/api/health");
    $("version").textContent = `v${health.version}`;
    await loadModels();
    modeChanged();
    const open = await api("/api/sources");
    if (open.sources.length) await useSource(() => open.sources[0]);
    else say("source-status", "choose a feature folder (Browse…) and Load");
  } catch (e) {
    say("source-status", e.message, "error");
  }
  document.body.dataset.ready = "1";
}

start();
