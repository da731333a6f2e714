// The file picker: a dialog that browses the server's allowed folders for a source, a raster or
// an output layer.
import { api } from "./api.js";
import { $, say } from "./dom.js";
import { setOutput } from "./outputs.js";
import { baseName } from "./paths.js";
import { source } from "./scene.js";
import { findRaster, loadSource, mode } from "./sources.js";

// What each purpose may pick (by the kinds /api/browse gives), and the status line of its errors.
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
  if (purpose === "raster") return `Find ${source().name}, the raster of ${baseName(source().path)}`;
  return mode() === "live" ? "Choose a raster" : "Choose a feature folder";
}

/** Shows the folder `path` (default: the first allowed root) for `purpose`: "source", "output"
 * or "raster" (the raster of the shown feature folder). */
export async function openPicker(purpose, path) {
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
    setOutput(path).then((chosen) => {  // a refused layer leaves the form as it was
      if (!chosen) return;
      const suffix = "." + path.split(".").pop().toLowerCase();
      $("output-path").value = path.replace(/\.[^.]*$/, "");
      if ([...$("output-format").options].some((o) => o.value === suffix)) $("output-format").value = suffix;
    });
  } else if (purpose === "raster") {
    findRaster(path);
  } else {
    $("source-path").value = path;
    loadSource();
  }
}
