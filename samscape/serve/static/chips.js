// The chip grid drawn on the map. The server lists a grid's polygons only up to its limit (5000);
// past it, the chips in view are asked for (`?bbox=`) whenever the view settles, and none are
// drawn while the view holds more than the limit.
import { api } from "./api.js";
import { olMap, readFeatures, replaceFeatures } from "./map.js";
import { showSourceStatus, source } from "./scene.js";

const asked = { seq: 0 };

/** Draws the grid of the first listing `chips` (the server's answer without a bbox) on the map
 * just built for `info`; a grid it left out is drawn by view from now on. */
export function showChips(info, chips) {
  info.encoded = chips.encoded;
  info.byView = chips.left_out > 0;
  replaceFeatures("chips", readFeatures(chips));
  if (info.byView) {
    olMap().on("moveend", () => { refreshChips().catch(() => {}); });
    refreshChips().catch(() => {});
  }
}

/** The chips (those in view, for a large grid) and the count of encoded ones, as the server has
 * them now. */
export async function refreshChips() {
  const info = source();
  if (!info) return;
  let query = "";
  if (info.byView) {
    const map = olMap();
    const view = map.getView().calculateExtent(map.getSize());
    const shown = ol.extent.getIntersection(view, info.extent);
    if (ol.extent.isEmpty(shown)) { replaceFeatures("chips", []); return; }
    query = `?bbox=${shown.join(",")}`;
  }
  const seq = ++asked.seq;
  const chips = await api(`/api/sources/${info.id}/chips${query}`);
  if (seq !== asked.seq || source() !== info) return;  // a later view, or another source
  replaceFeatures("chips", readFeatures(chips));
  info.encoded = chips.encoded;
  showSourceStatus(info);
}
