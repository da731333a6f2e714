// The OpenLayers map: its view in the source's own CRS (proj4 definitions from the server), the
// raster's tiles and the vector layers drawn over them, and the drag-box interactions. `ol` and
// `proj4` are the globals of the classic scripts vendor/ol.js and vendor/proj4.js.
import { withToken } from "./api.js";
import { options, style } from "./settings.js";

const shown = { map: null, layers: {}, dragBox: null, extentBox: null };

// What the map's events do; set once by listen().
let handlers = { click() {}, move() {}, leave() {}, boxDrag() {}, boxEnd() {}, extentEnd() {} };

/** Sets what the map's events call: click(event), move(event), leave(), boxDrag(box) while a box
 * is dragged, boxEnd(box) when it is released, extentEnd(extent) when an extent is drawn; a box
 * or an extent is [xmin, ymin, xmax, ymax] in the source's CRS. */
export function listen(on) { handlers = on; }

/** The ol.Map shown (null before the first source). */
export const olMap = () => shown.map;

/** The layer `name` (raster, extent, chips, copilot, saved, preview, result, prompts), or undefined. */
export const layer = (name) => shown.layers[name];

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
  const s = style();
  if (feature.get("kind") === "box") return polygonStyle(s.box, 0.05, [6, 4]);
  const color = feature.get("label") === 1 ? s.fg : s.bg;
  return new ol.style.Style({ image: new ol.style.Circle({
    radius: s.pointSize, fill: new ol.style.Fill({ color }),
    stroke: new ol.style.Stroke({ color: "#ffffff", width: 2 }) }) });
}

function vectorLayer(name, layerStyle, zIndex) {
  const made = new ol.layer.Vector({ source: new ol.source.Vector(), style: layerStyle, zIndex, properties: { name } });
  shown.layers[name] = made;
  return made;
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

/** A new map for the source `info` (the server's description), replacing the one shown, fitted
 * to the source's extent. */
export function build(info) {
  const projection = projectionFor(info);
  const [xmin, ymin, xmax, ymax] = info.extent;
  const pad = Math.max(xmax - xmin, ymax - ymin);
  const view = new ol.View({ projection, extent: [xmin - pad, ymin - pad, xmax + pad, ymax + pad],
                             constrainOnlyCenter: true });
  const layers = shown.layers;
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
    vectorLayer("chips", () => polygonStyle(style().boundary, 0, [4, 4]), 2),
    vectorLayer("copilot", () => polygonStyle("#0b7285", 0.04), 2),
    vectorLayer("saved", () => polygonStyle(style().saved, 0.25), 3),
    vectorLayer("preview", () => polygonStyle(style().preview, 0.3), 4),
    vectorLayer("result", () => polygonStyle(style().result, 0.35), 5),
    vectorLayer("prompts", promptStyle, 6),
  );
  if (shown.map) shown.map.setTarget(null);
  const map = new ol.Map({ target: "map", layers: mapLayers, view, controls: ol.control.defaults.defaults().extend([
    new ol.control.ScaleLine()]) });
  shown.map = map;
  layers.extent.getSource().addFeature(new ol.Feature(ol.geom.Polygon.fromExtent(info.extent)));
  layers.chips.setVisible(options().boundary);
  fit(info.extent);
  map.on("click", (event) => handlers.click(event));  // not singleclick, which waits 250 ms for a possible double click
  map.on("pointermove", (event) => handlers.move(event));
  map.getViewport().addEventListener("mouseleave", () => { handlers.leave(); });
  const dragBox = new ol.interaction.DragBox({ condition: ol.events.condition.always });
  dragBox.on("boxdrag", () => handlers.boxDrag(dragBox.getGeometry().getExtent()));
  dragBox.on("boxend", () => handlers.boxEnd(dragBox.getGeometry().getExtent()));
  map.addInteraction(dragBox);
  const extentBox = new ol.interaction.DragBox({ condition: ol.events.condition.always });
  extentBox.setActive(false);
  extentBox.on("boxend", () => {
    const extent = extentBox.getGeometry().getExtent();
    extentBox.setActive(false);
    handlers.extentEnd(extent);
  });
  map.addInteraction(extentBox);
  shown.dragBox = dragBox;
  shown.extentBox = extentBox;
}

/** Fits the view to `extent` ([xmin, ymin, xmax, ymax], the source's CRS). */
export function fit(extent) {
  if (shown.map) shown.map.getView().fit(extent, { padding: [20, 20, 20, 20] });
}

/** Whether the view's CRS is in degrees (else in metres or feet). */
export function inDegrees() {
  return shown.map.getView().getProjection().getUnits() === "degrees";
}

/** Draws the map now, not at the next animation frame. */
export function render() { shown.map.renderSync(); }

/** Prompting on: a drag draws a box when `boxTool` (and no extent is being drawn), and a double
 * click does not zoom. */
export function setPrompting(prompting, boxTool) {
  const { map, dragBox, extentBox } = shown;
  if (dragBox) dragBox.setActive(prompting && boxTool && !(extentBox && extentBox.getActive()));
  if (map) map.getInteractions().forEach((i) => { if (i instanceof ol.interaction.DoubleClickZoom) i.setActive(!prompting); });
}

/** The next drag draws an extent (ending in extentEnd); false when there is no map yet. */
export function drawExtent() {
  if (!shown.extentBox) return false;
  shown.extentBox.setActive(true);
  return true;
}

/** OpenLayers features of a GeoJSON FeatureCollection (none for null). */
export function readFeatures(collection) {
  return new ol.format.GeoJSON().readFeatures(collection || { type: "FeatureCollection", features: [] });
}

/** The features of layer `name` replaced by `features`. */
export function replaceFeatures(name, features) {
  const source = shown.layers[name].getSource();
  source.clear(true);
  source.addFeatures(features);
}

/** The layers drawn again with the current style; the chips shown when the option says so. */
export function restyle() {
  if (shown.layers.chips) shown.layers.chips.setVisible(options().boundary);
  for (const each of Object.values(shown.layers)) each.changed();
}
