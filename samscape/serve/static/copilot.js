// The Encoder Copilot: plans the encoding of the raster shown (chip grid, value range, disk and
// time estimates), exports its settings, and runs it as a server job.
import { api } from "./api.js";
import { $, say } from "./dom.js";
import { drawExtent, layer, readFeatures, replaceFeatures } from "./map.js";
import { parentOf } from "./paths.js";
import { updateInteractions } from "./prompts.js";
import { source } from "./scene.js";

// extent: the drawn extent (null: the whole raster); seq: the latest plan asked for; measured:
// the models already measured on this machine.
const copilot = { extent: null, plan: null, seq: 0, measured: new Set() };

function numbersIn(text) {
  return text.split(/[\s,]+/).filter(Boolean).map(Number);
}

function copilotBody(measure = false) {
  const low = $("cp-min").value, high = $("cp-max").value;
  return {
    raster: source().raster, model: $("cp-model").value, bands: numbersIn($("cp-bands").value),
    value_range: low !== "" && high !== "" ? [Number(low), Number(high)] : null,
    resolution_scale: $("cp-scale").value.trim() === "" ? 1 : Number($("cp-scale").value),  // 0: refused
    overlap: Number($("cp-overlap").value) || 0,
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
  if (!source() || !source().raster || !layer("copilot")) {
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

// Runs the plan as a job, then shows the feature folder it wrote with `openFolder(path)`.
async function encodeNow(openFolder) {
  if (!copilot.plan) { say("cp-status", "plan first: load a raster in Live Encoding", "error"); return; }
  const folder = parentOf(source().raster);
  const name = $("cp-out").value.trim();
  const out = name.includes("/") ? name : `${folder}/${name}`;
  let job;
  try { job = await api("/api/jobs/encode", { method: "POST", body: { ...copilotBody(), measure: undefined, out } }); }
  catch (e) { say("cp-status", e.message, "error"); return; }
  $("cp-encode").disabled = true;
  $("cp-progress").hidden = false;
  say("cp-status", "encoding…");
  $("cp-text").textContent = "starting…";
  try {
    while (job.state === "running") {
      await new Promise((r) => setTimeout(r, 300));
      job = await api(`/api/jobs/${job.id}`);
      $("cp-bar").value = job.total ? job.done / job.total : 0;
      $("cp-text").textContent = job.total ? `${job.done}/${job.total} chips` : "starting…";
    }
  } catch (e) {
    job = { state: "lost", error: `lost the encoding job (${e.message}); once the server answers, ` +
                                  "press Encode now again: it resumes what was encoded" };
  } finally {
    $("cp-encode").disabled = false;
    $("cp-progress").hidden = true;
  }
  if (job.state !== "done") { say("cp-status", job.error, "error"); return; }
  const encoded = `encoded ${job.encoded} chips in ${humanSeconds(job.seconds)}`;
  say("cp-status", `${encoded}; loading them`, "ok");
  await openFolder(job.out);
  if (source() && source().path === job.out) say("cp-status", `${encoded}; loaded`, "ok");
}

/** A new source is shown: the old extent and plan are dropped, and a new plan made if the
 * Copilot is open. */
export function sourceShown() {
  copilot.extent = copilot.plan = null;
  if ($("copilot-details").open) replan();
}

/** An extent was drawn on the map ([xmin, ymin, xmax, ymax]): plan for it. */
export function extentDrawn(extent) {
  copilot.extent = extent;
  updateInteractions();
  replan();
}

/** The Copilot's controls; `openFolder(path)` loads the feature folder a job wrote. */
export function wire(openFolder) {
  for (const id of ["cp-model", "cp-bands", "cp-overlap", "cp-min", "cp-max", "cp-scale"]) $(id).addEventListener("change", replan);
  $("copilot-details").addEventListener("toggle", () => { if ($("copilot-details").open) replan(); });
  $("cp-stats").onclick = fromStatistics;
  $("cp-draw").onclick = () => { if (drawExtent()) { updateInteractions(); say("cp-summary", "drag the extent on the map"); } };
  $("cp-whole").onclick = () => { copilot.extent = null; replan(); };
  $("cp-copy").onclick = async () => {
    if (!copilot.plan) return;
    try { await navigator.clipboard.writeText(JSON.stringify(copilot.plan.settings, null, 2)); say("cp-status", "settings copied", "ok"); }
    catch (e) { say("cp-status", "the browser refused the clipboard: use Export", "error"); }
  };
  $("cp-encode").onclick = () => encodeNow(openFolder);
}
