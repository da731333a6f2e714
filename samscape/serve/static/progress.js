// Live encoding progress: the bar under the source while a prompt waits for chips to be encoded.
import { api } from "./api.js";
import { refreshChips } from "./chips.js";
import { $ } from "./dom.js";
import { layer } from "./map.js";
import { source } from "./scene.js";

const POLL_MS = 150;

/** The answer of `work()`, with progress shown while it runs on a live source. `body`: the prompt
 * about to be sent. The bar shows at once when the prompt touches a chip not encoded yet, then the
 * polled count of chips encoded while it runs; the chips are redrawn after. */
export async function withProgress(work, body = {}) {
  if (!source() || source().mode !== "live") return work();
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
        const p = await api(`/api/sources/${source().id}/progress`);
        if (p.encoding && p.total && polling) {
          $("progress").hidden = false;
          bar.value = p.done / p.total;
          $("progress-text").textContent = `encoding chips ${p.done}/${p.total}`;
        }
      } catch (e) { /* the next poll will tell */ }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  poll();
  try { return await work(); } finally {
    polling = false;
    $("progress").hidden = true;
    await refreshChips();
  }
}

// Whether the point (x, y) or the box of `body` touches a chip not encoded yet.
function needsEncoding(body) {
  const chips = layer("chips").getSource();
  const touched = [];
  if (body.x !== undefined) touched.push(...chips.getFeaturesAtCoordinate([body.x, body.y]));
  if (body.box) chips.forEachFeatureIntersectingExtent(body.box, (f) => { touched.push(f); });
  return touched.some((f) => !f.get("encoded"));
}
