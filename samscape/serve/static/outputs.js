// The output layer: which file the session saves to (in which CRS), saving and undoing a save,
// and the table of saved groups.
import { api, withToken } from "./api.js";
import { $, say } from "./dom.js";
import { readFeatures, replaceFeatures } from "./map.js";
import { baseName, parentOf } from "./paths.js";
import { drawSession, session, source, superseded } from "./scene.js";

/** The layer the form names: name + format, in the source's folder unless the name has a path;
 * null without a name. */
export function outputPath() {
  const name = $("output-path").value.trim();
  const format = $("output-format").value;
  if (!name) return null;
  const folder = source() ? parentOf(source().path) : "";
  const file = name.toLowerCase().endsWith(format) ? name : name.replace(/\.(gpkg|shp|geojson|fgb)$/i, "") + format;
  return file.includes("/") ? file : `${folder}/${file}`;
}

/** Save to the layer at `path`, chosen by the user: kept whatever its CRS, with a clear word when
 * polygons are reprojected into it. */
export async function setOutput(path) {
  try {
    showOutput(await putOutput(path));
    return true;
  } catch (e) {
    if (e.name === "AbortError") return false;
    const still = session() && session().output ? `; still saving to ${outputName(session())}` : "";
    say("output-status", e.message + still, "error");
    return false;
  }
}

/** The short form of a group id shown in the page (the whole id is in the layer). */
function shortGroup(id) {
  return id.slice(-8);
}

// Sets the shown session's layer; an AbortError if another session is shown by the time it answers.
async function putOutput(path) {
  const id = session().id;
  const stale = () => !session() || session().id !== id;
  let answer;
  try { answer = await api(`/api/sessions/${id}/output`, { method: "PUT", body: { path } }); }
  catch (e) { throw stale() ? superseded() : e; }
  if (stale()) throw superseded();
  drawSession(answer);
  await refreshSaved();
  return answer;
}

// The layer this tab saves to, kept for a reload of the tab; the one before this load of the page.
const REMEMBERED = "samscape.output";
const remembered = sessionStorage.getItem(REMEMBERED);

/** After a reload: save to the layer this tab saved to before, if any (kept whatever its CRS). */
export async function reuseRemembered() {
  if (remembered && session() && layerPath(session()) !== remembered) await setOutput(remembered);
}

// The session's output as a path: `file.gpkg:layer` in a GeoPackage, else the file.
function layerPath(shown) {
  return shown.output + (shown.output_layer ? `:${shown.output_layer}` : "");
}

// The output as the user names it, without its folder.
function outputName(shown) {
  return baseName(layerPath(shown));
}

function showOutput(shown, note = "") {
  sessionStorage.setItem(REMEMBERED, layerPath(shown));
  const where = `saving to ${outputName(shown)} (${shown.output_crs})`;
  if (shown.output_crs === shown.crs) say("output-status", note + where, note ? "warn" : "ok");
  else say("output-status", `${note}${where}; polygons are reprojected from ${shown.crs} ` +
           "(area_m2 stays in square metres)", "warn");
}

/** The output layer for a newly loaded source `info`: the one the form names, unless that layer
 * holds another CRS; then `<name>_<epsg>` beside it, and the user is told. A layer of another CRS
 * is only kept when the user chooses it (setOutput), never silently on a change of source. */
export async function outputForSource(info) {
  const path = outputPath();
  if (!path) { say("output-status", "choose an output layer (New file or Existing…)"); return; }
  let shown;
  try { shown = await putOutput(path); } catch (e) {
    if (e.name === "AbortError") return;
    say("output-status", `${e.message}; choose another output layer (New file or Existing…)`, "error");
    return;
  }
  if (shown.output_crs === info.crs) { showOutput(shown); return; }
  const epsg = /^EPSG:(\d+)$/.exec(info.crs);
  const suffix = epsg ? epsg[1] : info.name.replace(/\.[^.]*$/, "").replace(/\W+/g, "_");
  const own = path.replace(/(\.[^./\\]+)$/, `_${suffix}$1`);
  const note = `${baseName(path)} is in ${shown.output_crs} and this source in ${info.crs}: `;
  try { showOutput(await putOutput(own), note); } catch (e) {
    if (e.name === "AbortError") return;
    say("output-status", `${note}${baseName(own)} cannot be used either (${e.message}); choose an output layer`, "error");
  }
}

/** Saves the session's result to its layer as one group. */
export async function save() {
  if (!session()) return;
  if (!session().output) { say("output-status", "choose an output layer first (New file or Existing…)", "error"); return; }
  try {
    const saved = await api(`/api/sessions/${session().id}/save`, { method: "POST" });
    drawSession(saved.session);
    const into = saved.session.output_crs === saved.session.crs ? "" : `, reprojected into ${saved.session.output_crs}`;
    say("output-status", `saved ${saved.polygons} polygon${saved.polygons === 1 ? "" : "s"} to ` +
        `${outputName(saved.session)}${into}`, "ok");
    await refreshSaved();
  } catch (e) { say("output-status", e.message, "error"); }
}

/** Removes the session's last saved group from its layer. */
export async function undoSave() {
  if (!session()) return;
  try {
    const undone = await api(`/api/sessions/${session().id}/undo-save`, { method: "POST" });
    drawSession(undone.session);
    say("output-status", `removed the last save (${shortGroup(undone.group_id)})`, "ok");
    await refreshSaved();
  } catch (e) { say("output-status", e.message, "error"); }
}

/** No saved groups shown (a new source's layer is not known yet). */
export function clearSaved() {
  replaceFeatures("saved", []);
  $("saved").hidden = true;
}

// Another tab may have saved or undone a save meanwhile.
window.addEventListener("focus", () => refreshSaved());
document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshSaved(); });

// The saved polygons on the map, and one row per saved group in the table.
async function refreshSaved() {
  if (!session() || !session().output) return;
  let collection;
  try { collection = await api(`/api/sessions/${session().id}/saved`); }
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
    `<tr><td title="${id}">${shortGroup(id)}</td><td>${g.polygons}</td><td>${g.area.toFixed(1)}</td></tr>`);
  $("saved-rows").innerHTML = rows.join("");
  $("saved").hidden = groups.size === 0;
  document.body.dataset.saved = groups.size;
  $("download").href = withToken(`/api/sessions/${session().id}/download`);
}
