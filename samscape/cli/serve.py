"""`samscape serve`: the HTTP API over a feature folder or raster and the allowed roots."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
from pathlib import Path

import click

from ..errors import SettingsError
from .options import device_opt, live_model_opt, threads_opt


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _checked(token: str | None) -> str | None:
    """A given token as it must travel in a header (None or empty: no token)."""
    if not token:
        return None
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise SettingsError("--token (or SAMSCAPE_TOKEN) must be printable ASCII without spaces; "
                            "give another")
    return token


def _hosts(host: str) -> tuple[str, ...] | None:
    """The Host header names the server answers to: loopback's and `host`; None (any) for a
    wildcard bind, which the token guards."""
    from ..serve.guards import LOOPBACK_HOSTS

    if host in ("0.0.0.0", "::", ""):
        return None
    return (*LOOPBACK_HOSTS, host)


@click.command("serve")
@click.argument("source", required=False)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; any other than this machine's loopback requires the printed token. "
                   "Requests must name loopback or this host in their Host header.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one (the printed URLs and the ready line give it).")
@click.option("--token", envvar="SAMSCAPE_TOKEN", metavar="TOKEN",
              help="Require 'Authorization: Bearer TOKEN' on every API call, on loopback too "
                   "[env: SAMSCAPE_TOKEN; default: a fresh one for a non-loopback --host, else none].")
@click.option("--root", "roots", multiple=True, type=click.Path(file_okay=False),
              help="A folder the server may read and write, or a URL prefix (s3://bucket/prefix) "
                   "under which it may open feature folders (repeatable) [default: SOURCE's folder, "
                   "else the current folder; with URL roots only, that folder too, for the output "
                   "layers, which are local files].")
@click.option("--allow-url-sources", is_flag=True,
              help="Let clients open feature folders at any URL (s3://…) the server's credentials "
                   "reach, not only under a --root URL.")
@live_model_opt
@device_opt
@threads_opt("interactive")
@click.option("--open", "open_browser", is_flag=True, help="Open the app in the default web browser.")
@click.option("--stop-on-eof", is_flag=True,
              help="Stop when standard input closes: for a program that starts the server and keeps its "
                   "stdin open, so the server ends with it, even after a crash.")
def serve_command(source: str | None, host: str, port: int, token: str | None, roots: tuple[str, ...],
                  allow_url_sources: bool, model: str | None, device: str, open_browser: bool,
                  stop_on_eof: bool) -> None:
    """Serve the samscape browser app and API for SOURCE (a feature folder or a raster) and the
    files under the allowed roots. The API is described at /openapi.json.

    Once connections are accepted, one line 'SAMSCAPE_READY {"url": ..., "port": ..., "version":
    ..., "api": ...}' is printed for programs that start the server; SIGTERM stops it."""
    import threading
    import webbrowser

    from ..features.storage import is_url
    from ..serve import Roots, Sources, create_app
    from ..serve.runner import bind, local_url, ready_line, run

    remote = source is not None and is_url(source)
    if source is not None and not remote and not Path(source).exists():
        raise SettingsError(f"source '{source}' does not exist; give a feature folder or a raster")
    generated = not token and not _is_loopback(host)
    token = secrets.token_urlsafe(24) if generated else _checked(token)
    default = Path(source).resolve().parent if source is not None and not remote else Path.cwd()
    local: list[str | Path] = [r for r in roots if not is_url(r)] or [default]
    urls = [r for r in roots if is_url(r)] + ([source] if remote and source is not None else [])
    allowed = Roots.of(*local, *urls, any_url=allow_url_sources)
    sock = bind(host, port)
    port = sock.getsockname()[1]
    sources = Sources(allowed, device)
    try:
        if source is not None:
            sources.keep(sources.open(source if remote else str(Path(source).resolve()), model))
    except BaseException:
        sock.close()
        raise
    app = create_app(allowed, token, sources, hosts=_hosts(host))
    shown = socket.gethostname() if _hosts(host) is None else f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")  # for other machines too
    click.echo(f"samscape: serving {allowed.describe()}")
    click.echo(f"samscape: app at {url}  (API described at http://{shown}:{port}/openapi.json)")
    if generated:
        click.echo(f"samscape: token (send 'Authorization: Bearer TOKEN' or ?token=): {token}")

    def ready() -> None:
        click.echo(ready_line(local_url(host, port), port))
        sys.stdout.flush()
        if open_browser:
            own = f"{local_url(host, port)}/" + (f"?token={token}" if token else "")
            threading.Thread(target=webbrowser.open, args=(own,), daemon=True).start()

    def stop() -> None:
        app.state.server.jobs.stop_all()
        sources.close_all()

    run(app, sock, on_ready=ready, on_stop=stop, stop_on_eof=stop_on_eof)
