"""Click-to-polygon in the browser app against the engine alone, on the demo model's features.

A 1024² demo scene (seed 1, held out from training) is encoded with the bundled `demo` model.
For 50 objects (buildings, water, fields) one foreground point at the object's most interior
pixel is:

- engine: `Session.add_point` in process (prompt → chips → decoder → mask → polygons), the call
  the server's route makes;
- browser: a real click in Debian's chromium on `samscape serve`'s page, from the click event's
  time stamp to the polygon drawn on the map (`renderSync` after the answer), as the page
  records it in `body[data-prompt-ms]`.

Both passes run once to warm the chip caches, then are timed. The difference at p50 is what
HTTP, JSON and drawing add.

    python benchmarks/bench_browser.py [--clicks 50] [--chromium /usr/bin/chromium]

Goal: the browser adds less than 30 ms at p50.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

import samscape
from samscape.demo import generate_scene
from samscape.demo.evaluate import point_prompt
from samscape.segment import Segmenter, Session
from samscape.serve import Roots, create_app
from samscape.sources import open_source


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def engine_ms(folder: Path, points: list[tuple[float, float]]) -> list[float]:
    with open_source(folder) as source:
        session = Session(Segmenter(source))
        times = []
        for timed in (False, True):
            for x, y in points:
                start = time.perf_counter()
                session.add_point(x, y)
                if timed:
                    times.append((time.perf_counter() - start) * 1000)
                session.clear()
    return times


def browser_ms(root: Path, points: list[tuple[float, float]], chromium: str) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Roots.of(root)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    times = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("body[data-ready='1']")
            page.fill("#source-path", "features")
            page.click("#load")
            page.wait_for_function("() => !samscapeApp.loading && samscapeApp.session")
            page.wait_for_load_state("networkidle")
            box = page.locator("#map").bounding_box()
            for timed in (False, True):
                for x, y in points:
                    px, py = page.evaluate("([x, y]) => samscapeApp.map.getPixelFromCoordinate([x, y])",
                                           [x, y])
                    page.evaluate("() => { delete document.body.dataset.promptMs; }")
                    page.mouse.click(box["x"] + px, box["y"] + py)
                    page.wait_for_function("() => document.body.dataset.promptMs && !samscapeApp.busy")
                    if timed:
                        times.append(float(page.evaluate("() => document.body.dataset.promptMs")))
                    page.keyboard.press("C")
                    page.wait_for_function(
                        "() => !samscapeApp.busy && samscapeApp.session.points.length === 0")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--chromium", default=os.environ.get("SAMSCAPE_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scene = generate_scene(1, 1024, 1024)
        raster, _ = scene.write(root)
        samscape.encode(str(raster), root / "features", model="demo", progress=False)
        objects = [o for o in scene.objects if o.cls in ("building", "water", "field")]
        points = [(p.x, p.y) for o in objects[:args.clicks]
                  for p in point_prompt(scene, o.object_id).points]
        engine = engine_ms(root / "features", points)
        browser = browser_ms(root, points, args.chromium)
    print(f"{len(points)} clicks on a 1024² demo scene, demo model, chips in memory")
    print(f"{'':<28}{'p50':>10}{'p95':>10}")
    for name, values in (("engine (Session.add_point)", engine), ("browser (click → drawn)", browser)):
        print(f"{name:<28}{percentile(values, 50):>8.1f}ms{percentile(values, 95):>8.1f}ms")
    added = percentile(browser, 50) - percentile(engine, 50)
    verdict = "met" if added < 30 else "NOT met"
    print(f"the browser adds {added:.1f} ms at p50 (goal < 30 ms: {verdict})")


if __name__ == "__main__":
    main()
