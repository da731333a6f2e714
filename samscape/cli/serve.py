"""`samscape serve`: the HTTP API over a feature folder or raster and the allowed roots."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import click

from ..errors import SettingsError
from .options import device_opt, live_model_opt


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


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
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--root", "roots", multiple=True, type=click.Path(file_okay=False),
              help="A folder the server may read and write (repeatable) [default: SOURCE's folder, "
                   "else the current folder].")
@live_model_opt
@device_opt
@click.option("--open", "open_browser", is_flag=True, help="Open the app in the default web browser.")
def serve_command(source: str | None, host: str, port: int, roots: tuple[str, ...],
                  model: str | None, device: str, open_browser: bool) -> None:
    """Serve the samscape browser app and API for SOURCE (a feature folder or a raster) and the
    files under the allowed roots. The API is described at /openapi.json."""
    import threading
    import webbrowser

    import uvicorn

    from ..serve import Roots, Sources, create_app

    if source is not None and not Path(source).exists():
        raise SettingsError(f"source '{source}' does not exist; give a feature folder or a raster")
    default = Path(source).resolve().parent if source is not None else Path.cwd()
    allowed = Roots.of(*(roots or (default,)))
    sources = Sources(allowed, device)
    if source is not None:
        sources.open(str(Path(source).resolve()), model)
    token = None if _is_loopback(host) else secrets.token_urlsafe(24)
    app = create_app(allowed, token, sources, hosts=_hosts(host))
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    click.echo(f"samscape: serving {', '.join(str(p) for p in allowed.paths)}")
    click.echo(f"samscape: app at {url}  (API described at http://{shown}:{port}/openapi.json)")
    if token:
        click.echo(f"samscape: token (send 'Authorization: Bearer TOKEN' or ?token=): {token}")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, (url,)).start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        sources.close_all()
