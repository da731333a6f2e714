"""A vector file of prompts → one prompt set per object, for batch segmentation."""

from __future__ import annotations

import os

import numpy as np
import pyogrio.raw
import shapely
from rasterio.crs import CRS

from ..errors import PromptError
from ..geo import norm_crs
from .prompts import PromptSet


def read_prompts(path: str | os.PathLike, crs: CRS | str | None = None) -> list[PromptSet]:
    """Objects from a vector file: each point (field `label`: 1 foreground, the default, or
    0 background) or polygon (its bounds become the box) is one object, unless a `group` field
    joins several features into one. Prompts are in the file's CRS, or `crs` if it has none."""
    try:
        meta, _, wkb, values = pyogrio.raw.read(path)
    except Exception as exc:
        raise PromptError(f"cannot read prompts file '{path}': {str(exc).splitlines()[0]}") from None
    fields = dict(zip(meta["fields"], values, strict=True))
    if meta.get("crs"):
        file_crs = CRS.from_user_input(meta["crs"])
    elif crs is not None:
        file_crs = norm_crs(crs)
    else:
        raise PromptError(f"prompts file '{path}' has no CRS; pass --crs with the CRS of its coordinates")
    geometries = shapely.from_wkb(wkb) if wkb is not None else []
    labels = [_plain(v) for v in fields.get("label", np.ones(len(geometries), dtype=int))]
    groups = None if fields.get("group") is None else [_plain(v) for v in fields["group"]]
    objects: dict[object, PromptSet] = {}
    for i, geometry in enumerate(geometries):
        key = ("row", i) if groups is None or _missing(groups[i]) else ("group", groups[i])
        name = f"feature {i + 1}" if key[0] == "row" else f"group {key[1]!r}"
        prompts = objects.get(key, PromptSet(file_crs))
        if geometry is None or geometry.is_empty:
            raise PromptError(f"{name} of '{path}' has no geometry; remove it or give it one")
        if geometry.geom_type == "Point":
            label = _label(labels[i])
            if label is None:
                raise PromptError(f"{name} of '{path}' has label {labels[i]!r}; use 1 (foreground) "
                                  "or 0 (background)")
            prompts = prompts.add_point(geometry.x, geometry.y, label)
        elif geometry.geom_type in ("Polygon", "MultiPolygon"):
            if prompts.box is not None:
                raise PromptError(f"{name} of '{path}' has two polygons; an object takes one box")
            prompts = prompts.with_box(geometry.bounds)
        else:
            raise PromptError(f"{name} of '{path}' is a {geometry.geom_type}; prompts are points "
                              "or polygons")
        objects[key] = prompts
    for key, prompts in objects.items():
        if prompts.is_empty:
            name = f"feature {key[1] + 1}" if key[0] == "row" else f"group {key[1]!r}"
            raise PromptError(f"{name} of '{path}' has only background points; add a foreground "
                              "point or a polygon")
    if not objects:
        raise PromptError(f"prompts file '{path}' holds no features")
    return list(objects.values())


def _plain(value: object) -> object:
    """numpy scalars as Python values, for messages and grouping."""
    return value.item() if isinstance(value, np.generic) else value


def _label(value: object) -> int | None:
    """1 or 0 from 1, 0, 1.0, 0.0, '1', '0', True, False; None for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number in (0.0, 1.0) else None


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
