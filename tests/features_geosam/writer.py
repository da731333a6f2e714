"""Geo-SAM v2 feature folders written as `geosam` 0.1.3 writes them, for tests.

`write_geosam_folder` follows `geosam.engines.FeatureCacheBuilder.build` step by step: chip
bounds from `GridGeoSampler` (`_window_starts`, row-major), each chip read as `RasterDataset.read`
reads it (`from_bounds` window, `window_transform`), made a model image as
`RasterSample.to_model_image` does, encoded as Ultralytics' predictor encodes (letterbox to the
input size, top-left, pad 114, BGR flip, ImageNet mean/std in 0-255), saved as
`EncodedImageFeatures.save` saves, and the manifest rows written with geopandas as the builder
writes them. The model is samscape's (a tiny random model or the demo model stands in for
Ultralytics' weights); the checkpoint path names it. `geosam_mask` decodes a prompt as
`FeatureQueryEngine.query` + Ultralytics' `Predictor.inference_features` do.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import rasterio
import torch
import torch.nn.functional as F
from affine import Affine
from rasterio.transform import array_bounds
from rasterio.windows import Window, from_bounds
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform
from shapely.geometry import box

from samscape.models import SamBackend, load_backend

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)


def window_starts(size: int, chip_size: int, stride: int) -> list[int]:
    """geosam.datasets.samplers._window_starts."""
    if chip_size >= size:
        return [0]
    starts = list(range(0, max(size - chip_size, 0) + 1, stride))
    last_start = size - chip_size
    if starts[-1] != last_start:
        starts.append(last_start)
    return starts


def model_image(image: np.ndarray) -> np.ndarray:
    """RasterSample.to_model_image for uint8 bands: (bands, H, W) → (H, W, 3)."""
    if image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    elif image.shape[0] == 2:
        image = np.concatenate([image, image[-1:, ...]], axis=0)
    elif image.shape[0] > 3:
        image = image[:3, ...]
    return np.moveaxis(image, 0, -1)


def ultralytics_features(backend: SamBackend, image: np.ndarray, size: int) -> object:
    """Predictor.set_image → predictor.features for an (H, W, 3) uint8 image read as BGR."""
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    new_h, new_w = max(round(h * r), 1), max(round(w * r), 1)
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x[None], (new_h, new_w), mode="bilinear", align_corners=False)[0].round()
    padded = torch.full((3, size, size), 114.0)
    padded[:, :new_h, :new_w] = x
    pixels = ((padded.flip(0) - MEAN) / STD)[None]  # Predictor.preprocess: im[..., ::-1]
    with torch.inference_mode():
        out = backend.model.get_image_embeddings(pixels)
    if backend.spec.family == "sam2":
        return {"image_embed": out[2].clone(), "high_res_feats": [out[0].clone(), out[1].clone()]}
    return out.clone()


def write_geosam_folder(raster: Path, output_dir: Path, model: str, checkpoint: str,
                        stride: int | None = None, model_type: str | None = None) -> Path:
    """FeatureCacheBuilder(RasterDataset(raster), ModelSpec(model_type, checkpoint), output_dir,
    stride=stride).build(), with samscape's `model` as the network."""
    backend = load_backend(model, "cpu")
    size = backend.spec.input_size
    model_type = model_type or backend.spec.family
    output_dir = Path(output_dir).expanduser().resolve()
    features_dir = output_dir / "features"
    features_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = str(Path(checkpoint).expanduser().resolve())
    rows = []
    with rasterio.open(raster) as ds:
        crs_text = pyproj.CRS.from_user_input(ds.crs).to_string()
        source_path = str(Path(raster).resolve())
        starts = [(r, c) for r in window_starts(ds.height, size, stride or size)
                  for c in window_starts(ds.width, size, stride or size)]
        for index, (row_start, col_start) in enumerate(starts):
            grid_window = Window(col_start, row_start, min(size, ds.width), min(size, ds.height))
            chip_bounds = window_bounds(grid_window, ds.transform)
            read_window = from_bounds(*chip_bounds, transform=ds.transform)
            image = ds.read(window=read_window, boundless=False)
            chip_transform = window_transform(read_window, ds.transform)
            height, width = image.shape[-2:]
            west, south, east, north = array_bounds(height, width, chip_transform)
            features = ultralytics_features(backend, model_image(image), size)
            chip_id = f"chip_{index:06d}"
            feature_path = features_dir / f"{chip_id}.pt"
            torch.save({"model_type": model_type, "checkpoint_path": checkpoint_path,
                        "src_shape": (height, width), "dst_shape": (size, size),
                        "feature_kind": "sam2" if isinstance(features, dict) else "sam",
                        "features": features}, feature_path)
            rows.append({
                "feature_path": str(feature_path), "chip_id": chip_id, "source_path": source_path,
                "checkpoint_path": checkpoint_path, "model_type": model_type,
                "transform": json.dumps(list(chip_transform)[:6]),
                "shape": json.dumps([height, width]), "crs": crs_text,
                "dst_shape": json.dumps([size, size]),
                "chip_center_x": (west + east) / 2.0, "chip_center_y": (south + north) / 2.0,
                "geometry": box(west, south, east, north),
            })
    manifest = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs_text)
    manifest.to_parquet(output_dir / "manifest.parquet")
    return output_dir


def geosam_chip(folder: Path, x: float, y: float) -> dict:
    """FeatureQueryEngine.query's chip for a point: the chips covering it, the nearest centre."""
    frame = gpd.read_parquet(Path(folder) / "manifest.parquet")
    from shapely.geometry import Point

    candidates = frame[frame.geometry.apply(lambda g: g.covers(Point(x, y)))]
    d = (candidates["chip_center_x"].to_numpy() - x) ** 2 + (candidates["chip_center_y"].to_numpy() - y) ** 2
    return candidates.iloc[int(np.argmin(d))].to_dict()


def geosam_mask(backend: SamBackend, features: dict, transform: Affine, shape: tuple[int, int],
                points: list[tuple[float, float]], labels: list[int] | None = None,
                bbox: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """The (H, W) bool mask Geo-SAM gives for map-coordinate prompts on one chip (multimask off):
    GeoGrid.to_points_prompt / to_bbox_prompt, Predictor._prepare_prompts (× r), the model, and
    inference_features' post-processing (letterbox crop, resize, > 0). `features` in samscape's
    names, (C, H, W)."""
    size = backend.spec.input_size
    h, w = shape
    r = min(size / h, size / w)
    inverse = ~transform
    kwargs = {}
    if points:
        cols_rows = np.array([inverse @ xy for xy in points], dtype=np.float32)
        kwargs["input_points"] = (torch.as_tensor(cols_rows) * r).view(1, 1, -1, 2)
        kwargs["input_labels"] = torch.tensor(labels or [1] * len(points)).view(1, 1, -1)
    if bbox is not None:
        (c0, r0), (c1, r1) = inverse @ (bbox[0], bbox[3]), inverse @ (bbox[2], bbox[1])
        xyxy = torch.tensor([min(c0, c1), min(r0, r1), max(c0, c1), max(r0, r1)], dtype=torch.float32)
        kwargs["input_boxes"] = (xyxy * r).view(1, 1, 4)
    if backend.spec.family == "sam2":
        embeddings = [features[n].float()[None] for n in ("high_res_feats_0", "high_res_feats_1",
                                                          "image_embeddings")]
    else:
        embeddings = features["image_embeddings"].float()[None]
    with torch.inference_mode():
        out = backend.model(image_embeddings=embeddings, multimask_output=False, **kwargs)
    low = out.pred_masks[0, 0].float()  # (1, m, m)
    m_h, m_w = low.shape[-2:]
    ratio = [round(o * r) * m / size / o for o, m in ((h, m_h), (w, m_w))]
    bottom, right = max(round(h * ratio[0]), 1), max(round(w * ratio[1]), 1)
    if (m_h, m_w) == (h, w):
        up = low[None]
    elif abs(h * ratio[0] - bottom) + abs(w * ratio[1] - right) > 1e-3:
        sh, sw = h * ratio[0] / m_h, w * ratio[1] / m_w
        theta = torch.tensor([[[sw, 0, sw - 1], [0, sh, sh - 1]]])
        grid = F.affine_grid(theta, [1, 1, h, w], align_corners=False)
        up = F.grid_sample(low[None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    else:
        up = F.interpolate(low[None, :, :bottom, :right], (h, w), mode="bilinear", align_corners=False)
    return (up[0, 0] > 0).numpy()
