"""The Encoder Copilot's plans, asked of the engine as its values change (`POST /api/copilot/plan`,
as the browser app's `copilot.js` does): requests are debounced, one is in flight at a time, and
an answer to values that changed meanwhile is dropped (the latest values are asked for next)."""

from __future__ import annotations

from qgis.PyQt.QtCore import QObject, QTimer, pyqtSignal

from .client import Client, Reply

DEBOUNCE_MS = 250
UNITS = ["B", "KB", "MB", "GB", "TB"]


def human_bytes(n: float) -> str:
    """'35 MB', '1.2 GB' (powers of 1024)."""
    unit = 0
    while n >= 1024 and unit < len(UNITS) - 1:
        n /= 1024
        unit += 1
    return f"{n:.{1 if n < 10 and unit else 0}f} {UNITS[unit]}"


def human_seconds(s: float) -> str:
    """'4.2 s', '35 s', '12 min', '2.5 h'."""
    if s < 90:
        return f"{s:.{1 if s < 10 else 0}f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def describe_plan(plan: dict) -> str:
    """'9 chips of 256 px, stride 128 px, range 12–200 · about 35 MB and 2 min on this machine'."""
    low, high = (f"{round(v, 3):g}" for v in plan["value_range"])
    chips = plan["chips"]
    text = (f"{chips} chip{'' if chips == 1 else 's'} of {plan['chip_size']} px, stride {plan['stride']} px, "
            f"range {low}–{high}")
    estimate = plan.get("estimate")
    if estimate:
        text += (f" · about {human_bytes(estimate['disk_bytes'])} and "
                 f"{human_seconds(estimate['seconds'])} on this machine")
    if plan.get("grid") is None:
        text += " · too many chips to draw: the grid is not shown (raise the scale or lower the overlap)"
    return text


class Planner(QObject):
    """Plans for the latest body asked (`ask`). `planned(body, plan)` and `failed(body, message)`
    come only for the latest body; `idle` once it is answered."""

    planned = pyqtSignal(dict, dict)
    failed = pyqtSignal(dict, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client: Client | None = None
        self.requests = 0  # sent to the engine (for tests: debouncing is seen in it)
        self._wanted: dict | None = None
        self._sent: dict | None = None
        self._in_flight: Reply | None = None
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS, timeout=self._send)

    @property
    def idle(self) -> bool:
        return self._in_flight is None and not self._timer.isActive()

    def set_client(self, client: Client | None) -> None:
        """Ask this engine from now on (None: none runs); an answer of the previous one is dropped."""
        self.client = client
        self._in_flight = None
        self._timer.stop()

    def ask(self, body: dict | None, now: bool = False) -> None:
        """Plan `body` (a PlanRequest) after a pause of DEBOUNCE_MS without another ask, or at once
        (`now`) when nothing is in flight; None: nothing to plan."""
        self._wanted = body
        if body is None:
            self._timer.stop()
        elif now:
            self._timer.stop()
            self._send()
        else:
            self._timer.start()

    def _send(self) -> None:
        if self._in_flight is not None or self._wanted is None or self.client is None:
            return  # an answer in flight asks again for the latest body when it comes
        self._sent = self._wanted
        self.requests += 1
        self._in_flight = self.client.post("/api/copilot/plan", self._sent)
        self._in_flight.then(self._answered)

    def _answered(self, reply: Reply) -> None:
        if reply is not self._in_flight:
            return
        self._in_flight = None
        if self._sent != self._wanted:
            if not self._timer.isActive():
                self._send()
            return
        if reply.ok:
            self.planned.emit(self._sent, reply.data)
        else:
            self.failed.emit(self._sent, reply.error)
