"""A vector file of prompts → one prompt set per object, for batch segmentation."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from rasterio.crs import CRS

from ..errors import PromptError, reason
from ..geo import norm_crs
from ..vector.layers import split_layer
from .prompts import PromptSet


def read_prompts(path: str | os.PathLike, crs: CRS | str | int | None = None,
                 default_crs: CRS | None = None) -> list[PromptSet]:
    """Objects from a vector file or a CSV of points: each point (field `label`: 1 foreground, the
    default, or 0 background) or polygon (its bounds become the box) is one object, unless a
    `group` field joins several features into one.

    The CRS of the coordinates, first that applies:
    - the file's own CRS (GeoPackage, Shapefile .prj, FlatGeobuf, a GeoJSON `crs` member);
    - `crs` (the user's --crs);
    - a GeoJSON without a `crs` member: EPSG:4326, as RFC 7946 says;
    - a CSV: EPSG:4326 for lon/lat (longitude/latitude) columns, `default_crs` (the source's)
      for x/y columns;
    - else PromptError asking for --crs.
    """
    if Path(path).suffix.lower() == ".csv":
        return _objects(path, *_read_csv(path, crs, default_crs))
    file, layer = split_layer(path)
    try:
        layers = [name for name, _ in pyogrio.list_layers(file)]
        if layer is None and len(layers) > 1:
            raise PromptError(f"prompts file '{path}' holds {len(layers)} layers "
                              f"({', '.join(layers[:10])}{', ...' if len(layers) > 10 else ''}); "
                              f"name one, e.g. '{path}:{layers[0]}'")
        if layer is not None and layer not in layers:
            raise PromptError(f"prompts file '{file}' has no layer '{layer}'; its layers: "
                              f"{', '.join(layers[:10])}")
        meta, _, wkb, values = pyogrio.raw.read(file, layer=layer)
    except PromptError:
        raise
    except Exception as exc:
        raise PromptError(f"cannot read prompts file '{path}': {reason(exc)}") from None
    fields = dict(zip(meta["fields"], values, strict=True))
    if crs is not None and _is_geojson(path) and not _has_crs_member(path):
        file_crs = norm_crs(crs)
    elif meta.get("crs"):
        file_crs = norm_crs(meta["crs"])
    elif crs is not None:
        file_crs = norm_crs(crs)
    else:
        raise PromptError(f"prompts file '{path}' has no CRS; pass --crs with the CRS of its coordinates")
    geometries = list(shapely.from_wkb(wkb)) if wkb is not None else []
    labels = [_plain(v) for v in fields.get("label", np.ones(len(geometries), dtype=int))]
    groups = None if fields.get("group") is None else [_plain(v) for v in fields["group"]]
    return _objects(path, file_crs, geometries, labels, groups)


def _objects(path: str | os.PathLike, file_crs: CRS, geometries: list, labels: list,
             groups: list | None, unit: str = "feature") -> list[PromptSet]:
    """One PromptSet per feature, or per `group` value where there is one (in file order)."""
    objects: dict[tuple[str, Any], PromptSet] = {}
    for i, geometry in enumerate(geometries):
        key: tuple[str, Any] = ("row", i) if groups is None or _missing(groups[i]) else ("group", groups[i])
        name = _name(key, unit)
        prompts = objects.get(key, PromptSet(file_crs))
        if geometry is None or geometry.is_empty:
            raise PromptError(f"{name} of '{path}' has no geometry; remove it or give it one")
        if geometry.geom_type == "MultiPoint" and len(geometry.geoms) == 1:  # as GIS tools often write
            geometry = geometry.geoms[0]
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
            raise PromptError(f"{_name(key, unit)} of '{path}' has only background points; add a "
                              "foreground point or a polygon")
    if not objects:
        raise PromptError(f"prompts file '{path}' holds no features")
    return list(objects.values())


def _name(key: tuple, unit: str) -> str:
    """'feature 3' (1-based; a CSV's 'row 4' counts its header) or "group 'a'"."""
    if key[0] == "group":
        return f"group {key[1]!r}"
    return f"row {key[1] + 2}" if unit == "row" else f"feature {key[1] + 1}"


def _is_geojson(path: str | os.PathLike) -> bool:
    return pyogrio.read_info(path).get("driver") in ("GeoJSON", "GeoJSONSeq")


def _has_crs_member(path: str | os.PathLike) -> bool:
    """Whether a GeoJSON file names its CRS (a top-level `crs` member); GeoJSON text sequences
    and files that are not one JSON object have none."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            document = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("crs") is not None


# CSV columns, matched case-insensitively: (x, y) pairs, the first pair present wins.
CSV_XY = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"))


def _read_csv(path: str | os.PathLike, crs: CRS | str | int | None, default_crs: CRS | None
              ) -> tuple:
    """A CSV of points → (crs, geometries, labels, groups, 'row'), for `_objects`. The
    separator (comma, semicolon or tab) is found from the header line."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"cannot read prompts file '{path}': {exc}") from None
    header = text.splitlines()[0] if text else ""
    delimiter = max(",;\t", key=header.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    columns = {name.strip().lower(): i for i, name in reversed(list(enumerate(rows[0] if rows else [])))}
    pair = next((p for p in CSV_XY if set(p) <= columns.keys()), None)
    if pair is None:
        found = ", ".join(name.strip() for name in rows[0]) if rows and any(rows[0]) else "none"
        raise PromptError(f"prompts file '{path}' has columns {found}; a CSV of points needs columns "
                          "x,y (in --crs, default: the source's CRS) or lon,lat or longitude,latitude "
                          "(WGS 84), and may have label (1/0) and group")
    if crs is not None:
        file_crs = norm_crs(crs)
    elif pair[0] != "x":
        file_crs = CRS.from_epsg(4326)
    elif default_crs is not None:
        file_crs = default_crs
    else:
        raise PromptError(f"prompts file '{path}' has x/y columns and no CRS; pass --crs with the "
                          "CRS of its coordinates")
    (ix, iy), il, ig = (columns[c] for c in pair), columns.get("label"), columns.get("group")
    geometries, labels, groups = [], [], []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [*row, *[""] * len(rows[0])]
        try:
            x, y = float(cells[ix]), float(cells[iy])
        except ValueError:
            raise PromptError(f"row {n} of '{path}' has {pair[0]}={cells[ix]!r}, {pair[1]}={cells[iy]!r}; "
                              "give two numbers") from None
        geometries.append(shapely.Point(x, y) if math.isfinite(x) and math.isfinite(y) else None)
        label = cells[il].strip() if il is not None else ""
        labels.append(label or 1)
        group = cells[ig].strip() if ig is not None else ""
        groups.append(group or None)
    return file_crs, geometries, labels, groups if ig is not None else None, "row"


def _plain(value: object) -> object:
    """numpy scalars as Python values, for messages and grouping."""
    return value.item() if isinstance(value, np.generic) else value


def _label(value: Any) -> int | None:
    """1 or 0 from 1, 0, 1.0, 0.0, '1', '0', True, False; None for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number in (0.0, 1.0) else None


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
