"""Running the app under uvicorn as `samscape serve` does: on a socket bound here (so port 0
gives a free port that is known before anyone connects), one machine-readable ready line once
connections are accepted, and the sources closed on SIGTERM or Ctrl+C before the process ends
(or, with `stop_on_eof`, once standard input closes: the program that started it ended, even by
a crash, and an orphan server would hold its memory and port).

The ready line is what a program that starts the server (the QGIS plugin) waits for:
`SAMSCAPE_READY {"url": "http://127.0.0.1:PORT", "port": PORT, "version": "X.Y.Z", "api": 1}`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .. import __version__
from ..errors import AddressInUseError
from .routers.server import API_VERSION

READY = "SAMSCAPE_READY"
GRACE_S = 3  # requests still running at a stop get this long before they are cut


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` (0: a free port; read it with `getsockname()`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if sys.platform != "win32":  # on Windows it would let another process share the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a kept-alive connection waits ~40 ms for the
    # client's delayed ACK between a response's header and body writes (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AddressInUseError(f"cannot listen on {host} port {port} ({exc.strerror or exc}); "
                                f"give another with --port (0 picks a free one)") from exc
    return sock


QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux


class QuickAckProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, acknowledging each piece of a request at once. A client that
    writes a POST's headers and body separately without TCP_NODELAY (Qt's QNetworkAccessManager,
    so the QGIS plugin) holds the body until the headers are acknowledged (Nagle), and Linux delays
    that acknowledgement by 40 ms while the server waits for the body: every POST took 40 ms more."""

    def data_received(self, data: bytes) -> None:
        if QUICKACK is not None:
            with contextlib.suppress(OSError, AttributeError):
                self.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        super().data_received(data)


def local_url(host: str, port: int) -> str:
    """The base URL a client on this machine uses (loopback for a wildcard bind)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def ready_line(url: str, port: int) -> str:
    return f"{READY} " + json.dumps({"url": url, "port": port, "version": __version__, "api": API_VERSION})


class Server(uvicorn.Server):
    """uvicorn's server, calling `on_ready` once it accepts connections and `on_stop` after it
    stopped (before a captured SIGTERM or SIGINT takes its usual effect)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None],
                 on_stop: Callable[[], None], stop_on_eof: bool = False) -> None:
        super().__init__(config)
        self.on_ready = on_ready
        self.on_stop = on_stop
        self.stop_on_eof = stop_on_eof

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            if self.stop_on_eof:
                threading.Thread(target=self._stop_at_eof, name="samscape-stdin", daemon=True).start()
            self.on_ready()

    def _stop_at_eof(self) -> None:
        """Read standard input to its end, then stop as SIGTERM would."""
        with contextlib.suppress(OSError, ValueError):
            while os.read(sys.stdin.fileno(), 65536):
                pass
        self.should_exit = True

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self.on_stop()


def run(app, sock: socket.socket, on_ready: Callable[[], None], on_stop: Callable[[], None],
        stop_on_eof: bool = False) -> None:
    """Serve `app` on the bound `sock` until SIGTERM or Ctrl+C (or the end of standard input)."""
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACE_S,
                            http=QuickAckProtocol)
    Server(config, on_ready, on_stop, stop_on_eof).run(sockets=[sock])
