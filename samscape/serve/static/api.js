// The HTTP API: one fetch wrapper that sends the page's token and turns a refusal into an ApiError.

// The token `samscape serve` printed: from the page's ?token=, kept for reloads of this tab.
const TOKEN = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("samscape.token");
if (TOKEN) sessionStorage.setItem("samscape.token", TOKEN);

/** A request the server refused; the message is the server's `detail`. */
export class ApiError extends Error {}

/** The JSON answer of `method path` (null for 204); `body` is sent as JSON. `signal`: an
 * AbortSignal that cancels the request (a newer load supersedes an older one). */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  let response;
  try {
    response = await fetch(path, { method, headers, signal,
                                   body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError("the samscape server does not answer: is it still running?");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) throw new ApiError(data.detail || `${response.status} ${response.statusText}`);
  return data;
}

/** `url` with the token as a query parameter, for what the browser fetches itself (tiles, links). */
export function withToken(url) {
  return TOKEN ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}` : url;
}

/** DELETE `path`, sent even while the page unloads; its answer and errors are ignored. */
export function deleteOnExit(path) {
  const headers = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
  fetch(path, { method: "DELETE", headers, keepalive: true }).catch(() => {});
}
