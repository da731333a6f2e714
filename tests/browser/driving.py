"""Driving the app in the page: screenshots, map coordinates to screen pixels, waiting."""

from __future__ import annotations

from playwright.sync_api import Page


def shot(page: Page, name: str) -> None:
    """Save a screenshot of this step, numbered in order."""
    count = len(list(page.shots.glob("*.png")))
    page.screenshot(path=page.shots / f"{count + 1:02d}-{name}.png")


def to_screen(page: Page, x: float, y: float) -> tuple[float, float]:
    """Map coordinates (the source's CRS) → page pixels."""
    px, py = page.evaluate("([x, y]) => samscapeApp.map.getPixelFromCoordinate([x, y])", [x, y])
    box = page.locator("#map").bounding_box()
    return box["x"] + px, box["y"] + py


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
