"""A small synthetic orthophoto-like GeoTIFF, for trying samscape without data of one's own."""

from __future__ import annotations

import os

import numpy as np
import rasterio
from affine import Affine


def write_sample_raster(path: str | os.PathLike, width: int = 1200, height: int = 900,
                        seed: int = 0) -> None:
    """Write a 3-band uint8 GeoTIFF in UTM 33N at 0.5 m: textured ground with rectangles and
    discs of other colours (buildings, ponds), deterministic from `seed`."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    ground = 90 + 25 * np.sin(xx / 37.0) * np.cos(yy / 53.0) + rng.normal(0, 6, (height, width))
    image = np.stack([ground * 0.9, ground * 1.1, ground * 0.7])
    for _ in range(25):
        colour = rng.uniform(40, 230, 3)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        if rng.random() < 0.6:
            half_w, half_h = rng.uniform(8, 40, 2)
            inside = (abs(xx - cx) < half_w) & (abs(yy - cy) < half_h)
        else:
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 < rng.uniform(15, 70) ** 2
        image[:, inside] = colour[:, None]
    data = np.clip(image, 0, 255).astype("uint8")
    with rasterio.open(
        path, "w", driver="GTiff", width=width, height=height, count=3, dtype="uint8",
        crs="EPSG:32633", transform=Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0),
        tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    ) as ds:
        ds.write(data)
