"""Click-to-rubber-band in the QGIS plugin against the engine alone, on the demo model's features.

A demo scene (`samscape demo --size 1024`: seed 0, encoded with the bundled `demo` model) is loaded
in the plugin's Segmentation dock, in QGIS (offscreen), with the engine started by the plugin. For
each of `--clicks` objects of the scene's ground truth, one foreground point on the object is:

- engine: `POST /api/sessions/ID/points` over plain HTTP (urllib) to the same engine, the answer
  parsed: the engine's own time plus loopback HTTP;
- plugin: a QgsMapMouseEvent into the foreground map tool, until the result rubber band is set and
  the canvas viewport repainted (QgsNetworkAccessManager, JSON, GeoJSON → QgsGeometry, drawing).

Each point is cleared before the next one; the engine pass runs once to warm the chip caches, then
each point is timed through both, alternately. The median of the per-click differences is what the
plugin adds. Run with QGIS's Python:

    QT_QPA_PLATFORM=offscreen python3 benchmarks/bench_qgis.py [--clicks 50] [--size 1024]

Goal: the plugin adds less than 30 ms at p50.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qgis_plugin"))

from qgis.core import QgsCoordinateReferenceSystem, QgsVectorLayer  # noqa: E402
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent  # noqa: E402
from qgis.PyQt.QtCore import QEvent, QEventLoop, QPoint, Qt, QTimer  # noqa: E402
from qgis.PyQt.QtWidgets import QMainWindow  # noqa: E402
from qgis.testing import start_app  # noqa: E402
from samscape_qgis.dock import SamscapeDock  # noqa: E402
from samscape_qgis.engine import RUNNING, Engine, command_line  # noqa: E402
from samscape_qgis.settings import EngineSettings  # noqa: E402

APP = start_app()


def wait_until(predicate, timeout_s: float) -> None:
    """Spin Qt's event loop until `predicate()`; RuntimeError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s} s")
        QTimer.singleShot(5, loop.quit)
        loop.exec()


def percentiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values), cuts[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    command = os.environ.get("SAMSCAPE_COMMAND") or shutil.which("samscape")
    if not command:
        sys.exit("no samscape command on PATH; set SAMSCAPE_COMMAND")
    work = Path(tempfile.mkdtemp(prefix="samscape-bench-qgis-"))
    try:
        run(command, work, args.clicks, args.size)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(command: str, work: Path, clicks: int, size: int) -> None:
    made = subprocess.run([*command_line(command), "demo", "--out", str(work / "demo"), "--size", str(size),
                           "--json", "--quiet"], capture_output=True, text=True, check=True)
    demo = json.loads(made.stdout)
    engine = Engine(EngineSettings(command=command), roots=[str(work)])
    engine.start()
    wait_until(lambda: engine.state == RUNNING, 180)
    window = QMainWindow()
    window.resize(1200, 800)
    canvas = QgsMapCanvas(window)
    window.setCentralWidget(canvas)
    window.show()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    dock = SamscapeDock(engine, canvas, window)
    session = dock.segmentation.session
    try:
        dock.options_panel.preview.setChecked(False)
        dock.source_panel.folder.setFilePath(demo["folder"])
        dock.source_panel.load_button.click()
        wait_until(lambda: session.source is not None and session.idle, 120)
        dock.segmentation.zoom_to_source()
        truth = QgsVectorLayer(demo["truth"], "truth", "ogr")
        points = [f.geometry().pointOnSurface().asPoint() for f in truth.getFeatures()][:clicks]
        drawn: list[float] = []
        session.changed.connect(lambda _: (canvas.viewport().repaint(), drawn.append(time.perf_counter())))

        def plugin_click(point) -> float:
            pixel = canvas.getCoordinateTransform().transform(point)
            at = QPoint(round(pixel.x()), round(pixel.y()))
            tool = canvas.mapTool()
            events = [QgsMapMouseEvent(canvas, kind, at, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton,
                                       Qt.KeyboardModifier.NoModifier)
                      for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease)]
            drawn.clear()
            start = time.perf_counter()
            tool.canvasPressEvent(events[0])
            tool.canvasReleaseEvent(events[1])
            wait_until(lambda: session.idle and drawn, 60)
            seconds = drawn[0] - start
            session.clear()
            wait_until(lambda: session.idle, 60)
            return seconds

        url = f"{engine.url}/api/sessions/{session.session['id']}"
        headers = {"Authorization": f"Bearer {engine.token}", "Content-Type": "application/json"}

        def engine_click(point) -> float:
            body = json.dumps({"x": point.x(), "y": point.y(), "label": 1}).encode()
            start = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(f"{url}/points", body, headers)) as answer:
                json.loads(answer.read())
            seconds = time.perf_counter() - start
            urllib.request.urlopen(urllib.request.Request(f"{url}/clear", b"{}", headers)).read()
            return seconds

        for point in points:  # warm the chip caches
            engine_click(point)
        engine_times, plugin_times = [], []
        for point in points:  # alternated, so both see the same machine load
            engine_times.append(engine_click(point))
            plugin_times.append(plugin_click(point))
    finally:
        dock.close_segmentation()
        engine.stop(wait=True)
    (e50, e95), (p50, p95) = percentiles(engine_times), percentiles(plugin_times)
    print(f"{len(points)} clicks on a {size}² demo scene, QGIS offscreen")
    print(f"{'':26}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'engine (HTTP, urllib)':26}{e50 * 1e3:>10.1f}{e95 * 1e3:>10.1f}")
    print(f"{'plugin (click → drawn)':26}{p50 * 1e3:>10.1f}{p95 * 1e3:>10.1f}")
    added = statistics.median(p - e for p, e in zip(plugin_times, engine_times, strict=True)) * 1e3
    print(f"the plugin adds {added:.1f} ms per click at p50 (goal: under 30 ms): "
          f"{'met' if added < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
