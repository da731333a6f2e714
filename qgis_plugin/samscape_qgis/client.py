"""HTTP calls to the engine that never block QGIS's UI thread.

Every call returns at once with a `Reply`, which fills in when the engine answers (QGIS's event
loop keeps running meanwhile): `client.get("/api/health").then(show)`. Requests go through
`QgsNetworkAccessManager`, so QGIS's network settings (timeout, proxy exclusions) apply. Bodies
and answers are JSON; every failure becomes one line naming the problem and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from qgis.core import QgsNetworkAccessManager
from qgis.PyQt.QtCore import QByteArray, QObject, QUrl, pyqtSignal
from qgis.PyQt.QtNetwork import QNetworkReply, QNetworkRequest

_NO_ANSWER = {
    QNetworkReply.NetworkError.ConnectionRefusedError,
    QNetworkReply.NetworkError.RemoteHostClosedError,
    QNetworkReply.NetworkError.HostNotFoundError,
}


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, at most `limit` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Reply(QObject):
    """One call to the engine. Until `done`, nothing else is set; then either `ok` with `status`
    and `data` (the parsed JSON answer), or `error` (one line) with `status` if the engine
    answered (None when it could not be reached). `finished(reply)` fires once, when done."""

    finished = pyqtSignal(object)

    def __init__(self, network_reply: QNetworkReply, what: str, base_url: str) -> None:
        super().__init__()
        self.what = what
        self.base_url = base_url
        self.done = False
        self.status: int | None = None
        self.data: Any = None
        self.error: str | None = None
        self._aborted = False
        self._reply = network_reply
        network_reply.finished.connect(self._finish)

    @property
    def ok(self) -> bool:
        return self.done and self.error is None

    def then(self, callback: Callable[[Reply], None]) -> Reply:
        """Call `callback(self)` when done (at once if already done); returns self."""
        if self.done:
            callback(self)
        else:
            self.finished.connect(callback)
        return self

    def abort(self) -> None:
        """Stop waiting: the reply finishes with an 'aborted' error (stale answers are dropped)."""
        if not self.done:
            self._aborted = True
            self._reply.abort()

    def _finish(self) -> None:
        reply = self._reply
        status = reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute)
        self.status = int(status) if status is not None else None
        body = bytes(reply.readAll())
        if self.status is None:
            self.error = self._network_error(reply)
        else:
            self._read_answer(body)
        self.done = True
        reply.deleteLater()
        self.finished.emit(self)

    def _network_error(self, reply: QNetworkReply) -> str:
        code = reply.error()
        if self._aborted:
            return f"{self.what}: aborted"
        if code in _NO_ANSWER:
            return (f"no samscape engine answers at {self.base_url}; restart it (samscape menu ▸ "
                    f"Restart engine) or check the engine URL in samscape settings")
        if code == QNetworkReply.NetworkError.OperationCanceledError:
            seconds = QgsNetworkAccessManager.timeout() // 1000
            return (f"{self.what}: the samscape engine at {self.base_url} did not answer within {seconds} s "
                    f"(QGIS's network timeout); try again, or raise the timeout in QGIS's Network settings")
        return f"{self.what} failed: {one_line(reply.errorString())}"

    def _read_answer(self, body: bytes) -> None:
        try:
            self.data = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.data = None
            if self.status < 400:
                self.error = (f"{self.what}: the answer from {self.base_url} is not JSON; "
                              f"is the engine URL a samscape engine?")
                return
        if self.status == 401:
            self.error = (f"the samscape engine at {self.base_url} refused this plugin's token; restart the "
                          f"engine, or in attach mode set the token it was given in samscape settings")
        elif self.status >= 400:
            detail = self.data.get("detail") if isinstance(self.data, dict) else None
            self.error = one_line(detail) if isinstance(detail, str) and detail else (
                f"{self.what}: HTTP {self.status} from the samscape engine at {self.base_url}")


class Client:
    """Calls to one engine: `base_url` like 'http://127.0.0.1:8765', `token` sent as
    `Authorization: Bearer` (empty: none). Keeps each Reply alive until it is done."""

    def __init__(self, base_url: str, token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._in_flight: set[Reply] = set()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Reply:
        return self._send("GET", path, params, None)

    def post(self, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Reply:
        return self._send("POST", path, params, body)

    def put(self, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Reply:
        return self._send("PUT", path, params, body)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Reply:
        return self._send("DELETE", path, params, None)

    def request(self, path: str, params: dict[str, Any] | None = None) -> QNetworkRequest:
        """The request for `path` (starting with '/'), with the token and JSON headers."""
        url = self.base_url + path
        if params:
            url += "?" + urlencode(params, doseq=True)
        request = QNetworkRequest(QUrl(url))
        request.setRawHeader(b"Accept", b"application/json")
        if self.token:
            request.setRawHeader(b"Authorization", f"Bearer {self.token}".encode())
        request.setAttribute(QNetworkRequest.Attribute.CacheLoadControlAttribute,
                             QNetworkRequest.CacheLoadControl.AlwaysNetwork)
        request.setAttribute(QNetworkRequest.Attribute.CacheSaveControlAttribute, False)
        return request

    def _send(self, method: str, path: str, params: dict[str, Any] | None, body: Any) -> Reply:
        request = self.request(path, params)
        manager = QgsNetworkAccessManager.instance()
        if body is None:
            network_reply = manager.sendCustomRequest(request, method.encode())
        else:
            request.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/json")
            network_reply = manager.sendCustomRequest(request, method.encode(),
                                                      QByteArray(json.dumps(body).encode()))
        reply = Reply(network_reply, f"{method} {path}", self.base_url)
        self._in_flight.add(reply)
        reply.finished.connect(self._in_flight.discard)
        return reply
