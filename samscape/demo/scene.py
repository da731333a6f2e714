"""Synthetic orthophoto-like scenes with known ground truth, deterministic from a seed.

A scene is painted in layers on a textured ground: roads (buffered polylines), water bodies
(smooth irregular shapes, some larger than one chip), fields (large striped polygons), buildings
(rotated rectangles and L-shapes with gabled roofs and cast shadows) and trees (small blobs).
Objects never overlap, so each pixel belongs to at most one object and the rasterised ground
truth is exactly the set of pixels painted as that object.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import rasterio.features
import shapely
from affine import Affine
from rasterio.crs import CRS
from scipy.ndimage import distance_transform_edt, find_objects, gaussian_filter, zoom
from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from ..geo import PixelGrid

CLASSES = ("building", "water", "field", "road", "tree")
PIXEL_SIZE = 0.5
SCENE_CRS = CRS.from_epsg(32633)

_ROOFS = np.array([(158, 66, 52), (150, 150, 156), (72, 72, 78), (205, 203, 196), (122, 92, 70),
                   (92, 104, 134), (176, 120, 80), (110, 130, 120)], float)
_CROPS = np.array([(196, 176, 96), (112, 152, 64), (136, 104, 72), (160, 170, 80),
                   (90, 128, 60)], float)
_SHADOW = 0.5
_MARGIN = 3.0


@dataclass(frozen=True, slots=True)
class SceneObject:
    """One ground-truth object: its id in the label raster, class and outline in map units."""

    object_id: int
    cls: str
    geometry: Polygon


@dataclass(frozen=True)
class Scene:
    """image: (H, W, 3) uint8 RGB; labels: (H, W) int32 object ids, 0 where no object."""

    seed: int
    grid: PixelGrid
    image: np.ndarray
    labels: np.ndarray
    objects: tuple[SceneObject, ...]

    @cached_property
    def slices(self) -> list[tuple[slice, slice] | None]:
        """Per object (id − 1): the (rows, cols) slices bounding its pixels; None if it has none."""
        return find_objects(self.labels, max_label=len(self.objects))

    def mask(self, object_id: int) -> tuple[tuple[slice, slice], np.ndarray]:
        """The object's bounding slices and its (h, w) bool pixel mask within them."""
        window = self.slices[object_id - 1]
        if window is None:
            raise ValueError(f"object {object_id} has no pixels in the scene")
        return window, self.labels[window] == object_id

    def write(self, folder: str | os.PathLike, stem: str = "scene") -> tuple[Path, Path]:
        """Write `<stem>.tif` (see `write_raster`) and `<stem>_truth.gpkg` (objects with a
        `class` field) into `folder`; returns both paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        raster, truth = folder / f"{stem}.tif", folder / f"{stem}_truth.gpkg"
        self.write_raster(raster)
        truth.unlink(missing_ok=True)
        pyogrio.raw.write(
            truth, shapely.to_wkb([o.geometry for o in self.objects]),
            [np.array([o.object_id for o in self.objects], "int32"),
             np.array([o.cls for o in self.objects], object)],
            ["object_id", "class"], layer="truth", driver="GPKG", geometry_type="Polygon",
            crs=self.grid.crs.to_wkt(),
        )
        return raster, truth

    def write_raster(self, path: str | os.PathLike) -> None:
        """Write the image as a tiled, deflated RGB GeoTIFF tagged with the scene's seed."""
        with rasterio.open(
            path, "w", driver="GTiff", width=self.grid.width, height=self.grid.height, count=3,
            dtype="uint8", crs=self.grid.crs, transform=self.grid.transform, tiled=True,
            blockxsize=256, blockysize=256, compress="deflate", photometric="RGB",
        ) as ds:
            ds.write(self.image.transpose(2, 0, 1))
            ds.update_tags(samscape_demo_seed=str(self.seed))


def generate_scene(seed: int, width: int = 2048, height: int = 2048,
                   origin: tuple[float, float] = (500000.0, 4000000.0)) -> Scene:
    """A scene of `width`×`height` pixels at 0.5 m in UTM 33N with its top-left corner at
    `origin`; the same seed and size always give the same scene."""
    rng = np.random.default_rng(seed)
    transform = Affine(PIXEL_SIZE, 0, origin[0], 0, -PIXEL_SIZE, origin[1])
    painter = _Painter(rng, width, height)
    painter.place_all()
    objects = tuple(SceneObject(i, cls, affinity.affine_transform(shape, transform.to_shapely()))
                    for i, (cls, shape, _) in enumerate(painter.placed, start=1))
    labels = rasterio.features.rasterize(
        ((o.geometry, o.object_id) for o in objects), out_shape=(height, width),
        transform=transform, fill=0, dtype="int32",
    ) if objects else np.zeros((height, width), "int32")
    image = painter.paint(labels)
    return Scene(seed, PixelGrid(width, height, transform, SCENE_CRS), image, labels, objects)


class _Painter:
    """Places non-overlapping shapes (pixel coordinates: x = column, y = row) and paints them."""

    def __init__(self, rng: np.random.Generator, width: int, height: int) -> None:
        self.rng = rng
        self.width, self.height = width, height
        self.frame = box(0, 0, width, height)
        self.occupied = np.zeros((height, width), bool)
        self.placed: list[tuple[str, Polygon, dict]] = []
        self.shadows: list[Polygon] = []

    def place_all(self) -> None:
        area = self.width * self.height / 1e6  # in megapixels
        for count, cls, make in (
            (max(1, round(1.0 * area)), "road", self._road),
            (max(1, round(1.2 * area)), "water", self._water),
            (max(1, round(1.5 * area)), "field", self._field),
            (round(45 * area), "building", self._building),
            (round(60 * area), "tree", self._tree),
        ):
            for _ in range(count):
                for _attempt in range(30):
                    made = make()
                    if made is not None and self._try_place(cls, *made):
                        break

    def _try_place(self, cls: str, shape: Polygon, footprint: Polygon, style: dict) -> bool:
        shape = shape.intersection(self.frame)
        if not isinstance(shape, Polygon) or shape.area < 12:
            return False
        window, mask = self._mask(footprint.buffer(_MARGIN))
        if window is None or self.occupied[window][mask].any():
            return False
        self.occupied[window] |= mask
        self.placed.append((cls, shape, style))
        return True

    def _mask(self, shape: Polygon) -> tuple[tuple[slice, slice] | None, np.ndarray]:
        x0, y0, x1, y1 = shape.bounds
        c0, r0 = max(int(x0), 0), max(int(y0), 0)
        c1, r1 = min(math.ceil(x1), self.width), min(math.ceil(y1), self.height)
        if c1 <= c0 or r1 <= r0:
            return None, np.zeros((0, 0), bool)
        mask = rasterio.features.rasterize(
            [shape], out_shape=(r1 - r0, c1 - c0), transform=Affine.translation(c0, r0),
            fill=0, dtype="uint8").astype(bool)
        return (slice(r0, r1), slice(c0, c1)), mask

    def _point(self, margin: float = 0) -> tuple[float, float]:
        return (self.rng.uniform(-margin, self.width + margin),
                self.rng.uniform(-margin, self.height + margin))

    def _road(self):
        rng = self.rng
        x, y = self._point()
        angle = rng.uniform(0, 2 * math.pi)
        vertices = [(x, y)]
        for _ in range(rng.integers(2, 4)):
            angle += rng.uniform(-0.6, 0.6)
            length = rng.uniform(150, 450)
            x, y = x + length * math.cos(angle), y + length * math.sin(angle)
            vertices.append((x, y))
        shape = LineString(vertices).buffer(rng.uniform(5, 9), cap_style="flat", join_style="round")
        return shape, shape, {"grey": rng.uniform(95, 135), "dashes": rng.random() < 0.5,
                              "line": vertices}

    def _water(self):
        rng = self.rng
        big = rng.random() < 0.35
        radius = rng.uniform(160, 300) if big else rng.uniform(35, 130)
        cx, cy = self._point(radius * 0.3)
        theta = np.linspace(0, 2 * math.pi, 180, endpoint=False)
        r = np.ones_like(theta)
        for k in range(2, 7):
            r += rng.normal(0, 0.22 / k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
        r = radius * np.clip(r, 0.45, None)
        shape = Polygon(np.c_[cx + r * np.cos(theta), cy + r * np.sin(theta)])
        if not shape.is_valid:
            return None
        colour = np.array([rng.uniform(25, 60), rng.uniform(60, 95), rng.uniform(85, 125)])
        return shape, shape, {"colour": colour}

    def _field(self):
        rng = self.rng
        w, h = rng.uniform(140, 420, 2)
        cx, cy = self._point(80)
        corners = np.array([(-w, -h), (w, -h), (w, h), (-w, h)]) / 2
        corners += rng.uniform(-0.12, 0.12, corners.shape) * np.array([w, h])
        shape = affinity.rotate(Polygon(corners + (cx, cy)), rng.uniform(0, 180), origin=(cx, cy))
        return shape, shape, {"colour": _CROPS[rng.integers(len(_CROPS))],
                              "stripe": rng.uniform(0, math.pi), "period": rng.uniform(5, 11)}

    def _building(self):
        rng = self.rng
        w, h = rng.uniform(16, 56), rng.uniform(14, 40)
        cx, cy = self._point()
        shape = box(-w / 2, -h / 2, w / 2, h / 2)
        if rng.random() < 0.35:
            ww, hh = w * rng.uniform(0.35, 0.55), h * rng.uniform(0.8, 1.4)
            shape = shape.union(box(w / 2 - ww, h / 2 - 1, w / 2, h / 2 + hh)).simplify(0)
        angle = rng.uniform(0, 180)
        shape = affinity.translate(affinity.rotate(shape, angle, origin=(0, 0)), cx, cy)
        height = rng.uniform(4, 12)
        shadow = shape.union(affinity.translate(shape, 0.6 * height, 0.8 * height)).convex_hull
        roof = _ROOFS[rng.integers(len(_ROOFS))] + rng.normal(0, 10, 3)
        return shape, shadow, {"colour": roof, "shadow": shadow, "angle": math.radians(angle),
                                  "centre": (cx, cy)}

    def _tree(self):
        rng = self.rng
        radius = rng.uniform(3.5, 9)
        cx, cy = self._point()
        theta = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        r = radius * (1 + rng.normal(0, 0.08, theta.shape))
        shape = Polygon(np.c_[cx + r * np.cos(theta), cy + r * np.sin(theta)])
        shadow = affinity.translate(shape, 0.4 * radius, 0.55 * radius)
        colour = np.array([rng.uniform(35, 70), rng.uniform(75, 110), rng.uniform(30, 50)])
        return shape, shape.union(shadow), {"colour": colour, "shadow": shadow,
                                            "centre": (cx, cy), "radius": radius}

    def paint(self, labels: np.ndarray) -> np.ndarray:
        """The RGB image of the placed objects over a textured ground; `labels` says which
        pixels belong to which object (ids from 1 in placement order)."""
        rng, h, w = self.rng, self.height, self.width
        image = _ground(rng, h, w)
        for _, _, style in self.placed:
            if "shadow" in style:
                window, mask = self._mask(style["shadow"])
                if window is not None:
                    mask &= labels[window] == 0
                    image[window][mask] *= _SHADOW
        for object_id, (cls, shape, style) in enumerate(self.placed, start=1):
            window, _ = self._mask(shape)
            if window is None:
                continue
            mask = labels[window] == object_id
            if not mask.any():
                continue
            rows, cols = np.nonzero(mask)
            ys, xs = rows + window[0].start + 0.5, cols + window[1].start + 0.5
            image[window][mask] = getattr(self, f"_paint_{cls}")(style, xs, ys, mask)
        image += rng.normal(0, 3.5, image.shape)
        image = gaussian_filter(image, (0.6, 0.6, 0))
        return np.clip(image + 0.5, 0, 255).astype("uint8")

    def _paint_road(self, style, xs, ys, mask):
        tone = style["grey"] + self.rng.normal(0, 5, xs.shape)
        colour = np.stack([tone, tone, tone * 1.03], axis=1)
        if style["dashes"]:
            line = LineString(style["line"])
            points = shapely.points(xs, ys)
            along = shapely.line_locate_point(line, points)
            near = shapely.distance(line, points) < 0.8
            colour[near & ((along // 6) % 2 == 0)] = 225
        return colour

    def _paint_water(self, style, xs, ys, mask):
        depth = _depth(mask)[mask]
        shade = 1 - 0.35 * np.clip(depth / 40, 0, 1)
        ripple = 4 * np.sin(xs * 0.31 + ys * 0.17) + self.rng.normal(0, 2.5, xs.shape)
        return style["colour"] * shade[:, None] + ripple[:, None]

    def _paint_field(self, style, xs, ys, mask):
        a = style["stripe"]
        phase = (xs * math.cos(a) + ys * math.sin(a)) * 2 * math.pi / style["period"]
        tone = 1 + 0.09 * np.sin(phase) + self.rng.normal(0, 0.03, xs.shape)
        return style["colour"] * tone[:, None]

    def _paint_building(self, style, xs, ys, mask):
        cx, cy = style["centre"]
        a = style["angle"]
        side = (xs - cx) * -math.sin(a) + (ys - cy) * math.cos(a)
        tone = np.where(side > 0, 0.86, 1.04)
        edge = _depth(mask)[mask] < 1.5
        tone = np.where(edge, tone * 0.9, tone)
        return style["colour"] * tone[:, None] + self.rng.normal(0, 3, (len(xs), 1))

    def _paint_tree(self, style, xs, ys, mask):
        cx, cy = style["centre"]
        d = np.hypot(xs - cx + 0.3 * style["radius"], ys - cy + 0.3 * style["radius"])
        tone = 1.15 - 0.45 * np.clip(d / (1.6 * style["radius"]), 0, 1)
        return style["colour"] * tone[:, None] * (1 + self.rng.normal(0, 0.08, (len(xs), 1)))


def _ground(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) float RGB: grass and soil blended by smooth noise, with fine texture."""
    blend = np.clip(_noise(rng, height, width, 96) * 0.9 + 0.5, 0, 1)[..., None]
    grass = np.array([92, 122, 62], float)
    soil = np.array([146, 128, 96], float)
    image = grass * (1 - blend) + soil * blend
    image *= 1 + 0.08 * _noise(rng, height, width, 12)[..., None]
    return image + rng.normal(0, 4, (height, width, 1))


def _noise(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    """Smooth noise of unit standard deviation with features about `scale` pixels wide."""
    coarse = rng.normal(0, 1, (height // scale + 3, width // scale + 3))
    fine = zoom(gaussian_filter(coarse, 1), scale, order=1)[:height, :width]
    return (fine - fine.mean()) / (fine.std() + 1e-9)


def _depth(mask: np.ndarray) -> np.ndarray:
    return distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]

