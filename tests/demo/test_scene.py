"""The scene generator: deterministic, georeferenced, and its ground truth is what it painted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import rasterio.features
import shapely
from scipy.ndimage import binary_dilation

from samscape.demo import CLASSES, generate_scene


@pytest.fixture(scope="module")
def scene():
    return generate_scene(7, 1024, 1024)


@pytest.fixture(scope="module")
def written(scene, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return scene.write(tmp_path_factory.mktemp("scene"))


def test_same_seed_same_scene(scene) -> None:
    again = generate_scene(7, 1024, 1024)
    assert np.array_equal(again.image, scene.image)
    assert np.array_equal(again.labels, scene.labels)
    assert [(o.cls, o.geometry.wkb) for o in again.objects] == [
        (o.cls, o.geometry.wkb) for o in scene.objects]


def test_other_seed_other_scene(scene) -> None:
    other = generate_scene(8, 1024, 1024)
    assert not np.array_equal(other.image, scene.image)


def test_raster_is_a_utm_orthophoto_at_half_a_metre(scene, written) -> None:
    raster, _ = written
    with rasterio.open(raster) as ds:
        assert ds.crs.to_epsg() == 32633
        assert ds.res == (0.5, 0.5)
        assert (ds.count, ds.dtypes[0], ds.width, ds.height) == (3, "uint8", 1024, 1024)
        assert np.array_equal(ds.read().transpose(1, 2, 0), scene.image)


def test_ground_truth_rasterises_to_the_painted_labels(scene, written) -> None:
    raster, truth = written
    meta, _, geometry, fields = pyogrio.raw.read(truth)
    assert meta["fields"].tolist() == ["object_id", "class"]
    assert set(fields[1]) <= set(CLASSES)
    with rasterio.open(raster) as ds:
        shapes = zip(shapely.from_wkb(geometry), fields[0], strict=True)
        labels = rasterio.features.rasterize(shapes, out_shape=ds.shape, transform=ds.transform,
                                             dtype="int32")
    assert np.array_equal(labels, scene.labels)
    for obj in scene.objects:  # no object hides another: each covers all of its own pixels
        expected = rasterio.features.rasterize([obj.geometry], out_shape=labels.shape,
                                               transform=scene.grid.transform, dtype="uint8")
        assert int(expected.sum()) == int((labels == obj.object_id).sum())


def test_objects_are_painted_apart_from_their_surroundings(scene) -> None:
    image = scene.image.astype(float)
    distinct = 0
    checked = [o for o in scene.objects if o.cls != "tree"]
    for obj in checked:
        inside = scene.labels == obj.object_id
        ring = binary_dilation(inside, iterations=3) & ~inside & (scene.labels == 0)
        if ring.sum() < 10:
            continue
        contrast = np.abs(image[inside].mean(0) - image[ring].mean(0)).max()
        distinct += contrast > 12
    assert distinct >= 0.9 * len(checked)


@pytest.mark.slow
def test_a_full_scene_has_every_class_and_water_larger_than_a_chip() -> None:
    scene = generate_scene(0)
    assert (scene.grid.width, scene.grid.height) == (2048, 2048)
    assert {o.cls for o in scene.objects} == set(CLASSES)
    widths = [o.geometry.bounds[2] - o.geometry.bounds[0] for o in scene.objects if o.cls == "water"]
    assert max(widths) > 256 * 0.5
