// The scene the page shows: the loaded source and its segmentation session (the server's JSON
// descriptions), and whether a load is under way to replace them.
import { $, say } from "./dom.js";
import { readFeatures, replaceFeatures } from "./map.js";

const shown = { source: null, session: null, loading: false };

/** The source shown (null before the first load): id, path, name, mode, model, crs, extent, ... */
export const source = () => shown.source;

/** Its session (null while none): id, points, box, result, output, output_crs, crs, ... */
export const session = () => shown.session;

/** Whether a load is under way (no prompt is taken meanwhile). */
export const loading = () => shown.loading;

export function setLoading(on) { shown.loading = on; }

/** Shows `info` as the source, with no session until drawSession. */
export function setSource(info) {
  shown.source = info;
  shown.session = null;
}

/** The error of work that a newer load or session made stale. */
export function superseded() { return new DOMException("a newer load or session took over", "AbortError"); }

/** Shows `session`: its prompts and result on the map, their count in the prompt status. */
export function drawSession(session) {
  shown.session = session;
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
    if (session.result.cut_off) {
      parts.push(`cut off at ${session.result.chips.length} chips: the object goes on (encode at a coarser resolution)`);
    }
  }
  say("prompt-status", parts.join(" · "), session.result && session.result.cut_off ? "warn" : "");
  document.body.dataset.polygons = session.result ? session.result.features.length : 0;
}

/** The source status line for `info` (with `encoded`, its count of encoded chips); a feature
 * folder whose raster was not found says so, and offers Find raster…. */
export function showSourceStatus(info) {
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
