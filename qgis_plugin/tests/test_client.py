"""The HTTP client: calls return at once and QGIS's event loop keeps running while they are in
flight; JSON in and out; the engine's errors and an absent engine as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Recorder, wait_until
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtNetwork import QHostAddress, QTcpServer

from samscape_qgis.client import Client, Reply
from samscape_qgis.engine import Engine
from samscape_qgis.settings import EngineSettings


def done(reply: Reply, timeout_s: float = 20) -> Reply:
    wait_until(lambda: reply.done, timeout_s, f"no answer to {reply.what}")
    return reply


@pytest.fixture(scope="module")
def engine(samscape_command: str, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("root")
    engine = Engine(EngineSettings(command=samscape_command), roots=[str(root)])
    ready = Recorder(engine.ready)
    engine.start()
    ready.wait(90)
    yield engine
    engine.stop(wait=True)


class HeldServer:
    """A loopback socket that takes a request and answers only when told to: while a request
    waits here, only a running event loop lets the test go on."""

    def __init__(self) -> None:
        self.server = QTcpServer()
        assert self.server.listen(QHostAddress(QHostAddress.SpecialAddress.LocalHost), 0)
        self.url = f"http://127.0.0.1:{self.server.serverPort()}"
        self.received = b""
        self.socket = None
        self.server.newConnection.connect(self._accept)

    def _accept(self) -> None:
        self.socket = self.server.nextPendingConnection()
        self.socket.readyRead.connect(lambda: setattr(self, "received", self.received + bytes(
            self.socket.readAll())))

    def answer(self, status: str, body: bytes) -> None:
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.socket.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        self.socket.flush()


def test_calls_do_not_block_the_event_loop() -> None:
    held = HeldServer()
    ticks = []
    timer = QTimer(interval=5, timeout=lambda: ticks.append(1))
    timer.start()
    reply = Client(held.url, "secret").post("/api/things", {"a": [1, 2]}, params={"q": "x y"})
    assert not reply.done
    wait_until(lambda: b"\r\n\r\n" in held.received and held.received.endswith(b"]}"), 10,
               f"the request did not arrive whole: {held.received!r}")
    wait_until(lambda: len(ticks) >= 5, 5)
    assert not reply.done, "answered before the server answered"
    held.answer("200 OK", b'{"ok": true}')
    done(reply)
    timer.stop()
    assert reply.ok and reply.status == 200 and reply.data == {"ok": True}

    head, body = held.received.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/things?q=x+y HTTP/1.1"
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert headers["authorization"] == "Bearer secret" and headers["content-type"] == "application/json"
    assert json.loads(body) == {"a": [1, 2]}


def test_abort_drops_a_stale_answer() -> None:
    held = HeldServer()
    reply = Client(held.url).get("/api/slow")
    wait_until(lambda: held.received.startswith(b"GET /api/slow"), 10)
    finished = Recorder(reply.finished)
    reply.abort()
    finished.wait(5)
    assert reply.done and not reply.ok and reply.error == "GET /api/slow: aborted" and reply.data is None


def test_not_json_answer_is_one_line() -> None:
    held = HeldServer()
    reply = Client(held.url).get("/api/health")
    wait_until(lambda: held.received.endswith(b"\r\n\r\n"), 10)
    held.answer("200 OK", b"<html>\nnot the engine</html>")
    done(reply)
    assert reply.error == (f"GET /api/health: the answer from {held.url} is not JSON; "
                           f"is the engine URL a samscape engine?")


def test_json_round_trip_and_errors_from_the_engine(engine: Engine, tmp_path: Path) -> None:
    client = engine.client()
    roots = done(client.get("/api/roots"))
    assert roots.ok and isinstance(roots.data["roots"], list) and len(roots.data["roots"]) == 1

    outside = done(client.post("/api/sources", {"path": "/etc/passwd"}))
    assert outside.status is not None and 400 <= outside.status < 500 and not outside.ok
    assert outside.error and "\n" not in outside.error
    assert outside.error == " ".join(outside.data["detail"].split())

    missing = done(client.delete("/api/sources/no-such-source"))
    assert missing.status == 404 and missing.error and "\n" not in missing.error

    then_calls = []
    missing.then(then_calls.append)
    assert then_calls == [missing]


def test_no_engine_is_one_line_with_the_fix() -> None:
    server = QTcpServer()
    assert server.listen(QHostAddress(QHostAddress.SpecialAddress.LocalHost), 0)
    url = f"http://127.0.0.1:{server.serverPort()}"
    server.close()
    reply = done(Client(url, "t").get("/api/health"))
    assert reply.status is None and reply.error == (
        f"no samscape engine answers at {url}; restart it (samscape menu ▸ Restart engine) "
        f"or check the engine URL in samscape settings")
