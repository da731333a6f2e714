"""The browser app in Debian's chromium driven by Playwright, against a real server in a thread.

Screenshots of every step go to tests/browser/screenshots/<test>/ (or $SAMSCAPE_SCREENSHOTS).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from serve.conftest import Served as ServedApp

import samscape
from samscape.demo import generate_scene
from samscape.serve import Roots, create_app

CHROMIUM = os.environ.get("SAMSCAPE_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("SAMSCAPE_SCREENSHOTS", Path(__file__).parent / "screenshots"))


class Served(ServedApp):
    """The app over `root` served in a background thread, at `url`."""

    def __init__(self, root: Path) -> None:
        super().__init__(create_app(Roots.of(root)))
        self.root = root
        self.url += "/"


@pytest.fixture(scope="module")
def scene():
    return generate_scene(4, 768, 768)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, scene) -> Iterator[Served]:
    """A root with the 768² demo scene (seed 4), its truth, and its feature folder."""
    root = tmp_path_factory.mktemp("root")
    raster, _ = scene.write(root)
    samscape.encode(str(raster), root / "features", model="demo", progress=False)
    with Served(root) as served:
        yield served


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) "
                    "or set SAMSCAPE_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh 1280×800 page; the test fails on any uncaught script error, or on any error the
    console logs but those containing a text the test put in `page.expected_errors`."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    folder = SHOTS / re.sub(r"\W+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    page.shots = folder
    page.expected_errors = []
    yield page
    context.close()
    errors = [e for e in errors if not any(text in e for text in page.expected_errors)]
    assert not errors, f"script errors in the page: {errors}"
