"""Click latency against torch's thread count, with the other cores free or busy: the measurements
behind samscape/threads.py's policy.

For one point prompt on a 1024 px chip in memory (`Segmenter.segment`: map → chip pixels, decoder,
polygons), with the bundled demo model and a ViT-B-sized SAM (random weights), interleaved click
by click in a shuffled order: 1 and 2 (or --threads) torch threads, with the other cores free or
kept busy by spinning processes (one per other core, paused with SIGSTOP between rounds).

Then (`--encode`, the server's case) clicks with the demo model while the same encoding runs
beside them, the old way (a thread of the same process, torch's default threads) against the
policy's (a `samscape encode --threads cores-1` child process, the decoder on its threads).

    python benchmarks/bench_threads.py                 # both models, 30 clicks per condition
    python benchmarks/bench_threads.py --encode-only    # only the clicks beside an encoding
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rasterio
import torch
from affine import Affine

CHIP = 1024
SPIN = "while True: pass"


def write_raster(path: Path, size: int = CHIP) -> None:
    yy, xx = np.mgrid[0:size, 0:size]
    data = np.stack([np.sin(xx / (60 + 9 * b)) + np.cos(yy / (45 + 7 * b)) for b in range(3)])
    data = ((data + 2) * 60).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        ds.write(data)


def p50(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def p95(seconds: list[float]) -> float:
    ms = sorted(s * 1000 for s in seconds)
    return ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


class Spinners:
    """Processes that each keep one core busy while running; paused (SIGSTOP) when not."""

    def __init__(self, count: int) -> None:
        self.processes = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]
        self.pause()

    def pause(self) -> None:
        for p in self.processes:
            p.send_signal(signal.SIGSTOP)

    def spin(self) -> None:
        for p in self.processes:
            p.send_signal(signal.SIGCONT)
        time.sleep(0.02)

    def close(self) -> None:
        for p in self.processes:
            p.send_signal(signal.SIGCONT)
            p.kill()
            p.wait()


def clicker(folder: Path, seed: int):
    """A function making one click → polygons on chip 0 (in memory) at a random point."""
    from samscape.segment import PromptSet, Segmenter
    from samscape.sources import EncodedSource

    source = EncodedSource.open(folder, device="cpu")
    chip = source.chips.chip(0)
    segmenter = Segmenter(source, max_chips=1)
    rng = np.random.default_rng(seed)
    size = chip.window.width

    def click() -> None:
        c, r = (int(v) for v in rng.integers(size // 16, size - size // 16, 2))
        segmenter.segment(PromptSet(source.crs).add_point(*(chip.transform @ (c + 0.5, r + 0.5))))

    for _ in range(3):
        click()
    return click


def threads_table(label: str, folder: Path, counts: list[int], clicks: int, spinners: Spinners) -> None:
    click = clicker(folder, 1)
    conditions = [(n, busy) for busy in (False, True) for n in counts]
    timings: dict[tuple[int, bool], list[float]] = {c: [] for c in conditions}
    order = random.Random(0)
    for _ in range(clicks):
        for n, busy in order.sample(conditions, len(conditions)):
            torch.set_num_threads(n)
            spinners.spin() if busy else spinners.pause()
            t = time.perf_counter()
            click()
            timings[(n, busy)].append(time.perf_counter() - t)
    spinners.pause()
    print(f"\n{label}: click → polygons, chip in memory, {clicks} clicks per condition (p50 / p95 ms)")
    print(f"  {'threads':>7} | {'cores free':>17} | {'other cores busy':>17} | busy / free")
    for n in counts:
        free, busy = timings[(n, False)], timings[(n, True)]
        print(f"  {n:>7} | {p50(free):7.1f} / {p95(free):7.1f} | {p50(busy):7.1f} / {p95(busy):7.1f} | "
              f"{p50(busy) / p50(free):.2f}x")
    one = counts[0]
    for n in counts[1:]:
        print(f"  {n} threads vs {one}: free {p50(timings[(one, False)]) / p50(timings[(n, False)]):.2f}x "
              f"faster, busy {p50(timings[(one, True)]) / p50(timings[(n, True)]):.2f}x faster")


def clicks_while(click, started: threading.Event, running, pause: float) -> tuple[list[float], float]:
    """Click times from when the encoding `started` (its first chips) while `running()` is true, a
    click every `pause` s at most (a user's pace, leaving the encoder its share); and the seconds
    from that start to the encoding's end."""
    started.wait()
    begin = time.perf_counter()
    seconds: list[float] = []
    while running():
        t = time.perf_counter()
        click()
        seconds.append(time.perf_counter() - t)
        time.sleep(pause)
    return seconds, time.perf_counter() - begin


def _in_thread(raster: Path, out: Path, click, pause: float) -> tuple[list[float], float]:
    from samscape import encode

    started, done = threading.Event(), threading.Event()

    def work() -> None:
        try:
            encode(str(raster), out, model="demo", device="cpu", batch_size=1,
                   progress=lambda n, total: started.set())
        finally:
            started.set()
            done.set()

    worker = threading.Thread(target=work)
    worker.start()
    timed = clicks_while(click, started, lambda: not done.is_set(), pause)
    worker.join()
    return timed


def _in_process(raster: Path, out: Path, click, pause: float, threads: int) -> tuple[list[float], float]:
    child = subprocess.Popen([sys.executable, "-m", "samscape.cli.main", "encode", str(raster), str(out),
                              "--model", "demo", "--device", "cpu", "--batch-size", "1",
                              "--progress-json", "--threads", str(threads)],
                             stdout=subprocess.PIPE, text=True)
    started = threading.Event()

    def read() -> None:
        for _ in child.stdout or ():
            started.set()
        started.set()

    reader = threading.Thread(target=read)
    reader.start()
    timed = clicks_while(click, started, lambda: child.poll() is None, pause)
    child.wait()
    reader.join()
    return timed


def encode_beside(demo: Path, raster: Path, tmp: Path, rounds: int, pause: float) -> None:
    """Clicks while an encoding runs: in a thread of this process (torch's default threads,
    the server before the policy) vs a `samscape encode` child process (the policy)."""
    from samscape.threads import cores, default_threads

    decoder = default_threads("interactive")
    default = cores()
    click = clicker(demo, 2)
    torch.set_num_threads(decoder)
    idle: list[float] = []
    for _ in range(30):
        t = time.perf_counter()
        click()
        idle.append(time.perf_counter() - t)
    ways = {"thread": f"same process, {default} threads for both",
            "process": f"child process on {max(1, default - decoder)}, decoder on {decoder}",
            "process-all": f"child process on {default}, decoder on {decoder}"}
    results: dict[str, list[tuple[list[float], float]]] = {}
    for i, way in enumerate(list(ways) * rounds):
        out = tmp / f"enc-{way}-{i}"
        if way == "thread":
            torch.set_num_threads(default)
            results.setdefault(way, []).append(_in_thread(raster, out, click, pause))
        else:
            torch.set_num_threads(decoder)
            threads = max(1, default - decoder) if way == "process" else default
            results.setdefault(way, []).append(_in_process(raster, out, click, pause, threads))
    print(f"\ndemo clicks (one each {pause * 1000:.0f} ms) while the demo model encodes a {raster.stem} "
          f"raster beside them, {rounds} interleaved rounds (click p50 with nothing beside, "
          f"{decoder} thread(s): {p50(idle):.1f} ms); encoding timed from its first chip")
    for way, runs in results.items():
        seconds = [s for r in runs for s in r[0]]
        totals = ", ".join(f"{r[1]:.1f}" for r in runs)
        print(f"  {ways[way]}: click p50 {p50(seconds):.1f} ms p95 {p95(seconds):.1f} ms "
              f"({len(seconds)} clicks); encoding took {totals} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--threads", default="1,2", help="thread counts to compare [1,2]")
    parser.add_argument("--demo-only", action="store_true", help="leave out the ViT-B-sized model")
    parser.add_argument("--encode", action="store_true", help="also clicks beside a running encoding")
    parser.add_argument("--encode-only", action="store_true", help="only clicks beside an encoding")
    parser.add_argument("--rounds", type=int, default=2, help="encodings each way [2]")
    args = parser.parse_args()
    counts = [int(n) for n in args.threads.split(",")]
    spinners = Spinners(max(1, os.cpu_count() or 1) - 1)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            os.environ["SAMSCAPE_HOME"] = str(tmp / "home")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from samscape import encode

            raster = tmp / "chip.tif"
            write_raster(raster)
            print(f"{os.cpu_count()} cores, {len(spinners.processes)} spinner(s), chip {CHIP} px; "
                  "numbers are noisy where other programs run")
            demo = tmp / "demo"
            encode(str(raster), demo, model="demo", device="cpu", progress=False)
            if not args.encode_only:
                threads_table("demo", demo, counts, args.clicks, spinners)
            if not (args.demo_only or args.encode_only):
                from transformers import SamConfig, SamModel

                from samscape.models import import_folder

                torch.manual_seed(0)
                SamModel(SamConfig()).save_pretrained(tmp / "vit-b")
                import_folder(tmp / "vit-b", "bench-sam-vit-b")
                folder = tmp / "bench-sam-vit-b"
                encode(str(raster), folder, model="bench-sam-vit-b", device="cpu", progress=False)
                threads_table("ViT-B-sized SAM", folder, counts, args.clicks, spinners)
            if args.encode or args.encode_only:
                big = tmp / "scene-1536.tif"
                write_raster(big, 1536)
                encode_beside(demo, big, tmp, args.rounds, 0.1)
    finally:
        spinners.close()


if __name__ == "__main__":
    main()
