// Server paths as text (either separator).

/** The last part of `path`: "a/b/scene.tif" → "scene.tif". */
export function baseName(path) { return path.split(/[\\/]/).pop(); }

/** The folder holding `path`: "a/b/scene.tif" → "a/b". */
export function parentOf(path) { return path.replace(/[\\/][^\\/]*$/, ""); }
