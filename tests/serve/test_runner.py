"""The socket `samscape serve` listens on."""

from __future__ import annotations

import socket

from samscape.serve.runner import bind


def test_accepted_connections_send_without_delay() -> None:
    """TCP_NODELAY reaches accepted connections: with Nagle on, every answer on a kept-alive
    connection (QGIS's network manager, browsers) waited ~40 ms for the client's delayed ACK."""
    with bind("127.0.0.1", 0) as listening:
        listening.listen()
        with socket.create_connection(listening.getsockname()[:2]):
            accepted, _ = listening.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
