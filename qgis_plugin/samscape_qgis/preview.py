"""The preview: the result with the pointer as a temporary prompt, following the mouse (as the
browser app's prompts.js has it): one request in flight, only the latest position waits, at most
one request every PREVIEW_INTERVAL_MS, and answers older than the last prompt change dropped."""

from __future__ import annotations

import time

from qgis.PyQt.QtCore import QObject, QTimer, pyqtSignal

PREVIEW_INTERVAL_MS = 40


class Preview(QObject):
    """Previews for the session of `owner` (a SegmentationSession). `shown(collection)` fires with
    the result GeoJSON in the session's CRS, or None when the preview is dropped."""

    shown = pyqtSignal(object)

    def __init__(self, owner) -> None:
        super().__init__(owner)
        self.owner = owner
        self.enabled = True
        self.requests = 0
        self._seq = 0
        self._busy = False
        self._pending: dict | None = None
        self._last = 0.0
        self._timer = QTimer(self, singleShot=True, timeout=self.pump)

    @property
    def idle(self) -> bool:
        """No preview in flight or waiting."""
        return not self._busy and self._pending is None

    def point(self, x: float, y: float, label: int) -> None:
        self._request({"x": x, "y": y, "label": label})

    def box(self, xmin: float, ymin: float, xmax: float, ymax: float) -> None:
        self._request({"box": [xmin, ymin, xmax, ymax]})

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if not on:
            self.clear()

    def clear(self) -> None:
        """Drop the preview, and any answer still on its way."""
        self._pending = None
        self._seq += 1
        self.shown.emit(None)

    def _request(self, body: dict) -> None:
        if not self.enabled:
            return
        self._pending = body
        self.pump()

    def pump(self) -> None:
        """Send the waiting position, if nothing is in flight and no prompt is being answered."""
        owner = self.owner
        if self._busy or self._pending is None or owner.busy or owner.loading or owner.session is None:
            return
        wait = self._last + PREVIEW_INTERVAL_MS / 1000 - time.monotonic()
        if wait > 0:
            self._timer.start(max(1, int(wait * 1000)))
            return
        body, self._pending = self._pending, None
        self._busy = True
        self._last = time.monotonic()
        self._seq += 1
        seq = self._seq
        self.requests += 1
        reply = owner.client.post(f"/api/sessions/{owner.session['id']}/preview", body)
        owner.progress.track(reply, body)
        reply.then(lambda r: self._answered(seq, r))

    def _answered(self, seq: int, reply) -> None:
        self._busy = False
        if reply.ok and seq == self._seq and self.enabled:
            self.shown.emit(reply.data)
        # a preview that fails (e.g. outside the chips) leaves the last one shown
        self.pump()
