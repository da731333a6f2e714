"""mask_to_polygons: pixel-exact and simplified polygons of real masks, in map coordinates."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio.features
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_geom
from scipy import ndimage
from shapely.geometry import Polygon, box, mapping, shape
from shapely.ops import unary_union

from samscape.errors import SettingsError
from samscape.geo import crs_transformer
from samscape.vector import VECTORIZE_MODES, VectorOptions, mask_to_polygons
from samscape.vector.polygons import reproject
from samscape.vector.tracing import trace

UTM = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)          # 0.5 m pixels, non-zero origin
GEOGRAPHIC = Affine(1 / 3600, 0, 12.25, 0, -1 / 3600, 45.75)  # 1 arc-second, north-up


def pixel_union(mask: np.ndarray, transform: Affine):
    """The union of the True pixels' squares, in map coordinates."""
    rows, cols = np.nonzero(mask)
    squares = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        x0, y0 = transform @ (c, r)
        x1, y1 = transform @ (c + 1, r + 1)
        squares.append(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    return unary_union(squares)


def all_coords(polygons) -> np.ndarray:
    return np.concatenate([shapely.get_coordinates(p) for p in polygons])


def disc(size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return (yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 <= radius**2


def blob_mask() -> np.ndarray:
    """A disc with a square hole, a rectangle touching it, and a separate small square."""
    mask = disc(80, 35, 35, 22)
    mask[28:40, 30:38] = False          # hole inside the disc
    mask[50:60, 50:75] = True           # rectangle joined to the disc
    mask[70:74, 5:9] = True             # separate 4x4 square
    return mask


@pytest.mark.parametrize("transform", [UTM, GEOGRAPHIC], ids=["utm-0.5m", "geographic"])
def test_pixel_mode_follows_pixel_edges_exactly(transform):
    mask = blob_mask()
    polygons = mask_to_polygons(mask, transform, VectorOptions(mode="pixel"))

    _, components = ndimage.label(mask)  # 4-connectivity, as pixel edges join pixels
    assert len(polygons) == components == 2
    assert all(p.is_valid and p.geom_type == "Polygon" for p in polygons)
    areas = [p.area for p in polygons]
    assert areas == sorted(areas, reverse=True)

    # Every vertex is a pixel corner: transform @ (integer col, integer row).
    coords = all_coords(polygons)
    inverse = ~transform
    pixel_xy = np.array([inverse @ (x, y) for x, y in coords])
    corners = np.round(pixel_xy)
    np.testing.assert_allclose(pixel_xy, corners, atol=1e-6)
    expected = np.array([transform @ (c, r) for c, r in corners])
    if transform == UTM:
        np.testing.assert_array_equal(coords, expected)  # 0.5 m steps are exact in binary
    else:
        np.testing.assert_allclose(coords, expected, rtol=0, atol=1e-11)

    pixel_area = abs(transform.a * transform.e)
    total = sum(p.area for p in polygons)
    assert total == pytest.approx(mask.sum() * pixel_area, rel=1e-12)
    assert polygons[1].area == pytest.approx(16 * pixel_area, rel=1e-12)

    # Same region as the pixel squares, hole included.
    truth = pixel_union(mask, transform)
    assert unary_union(polygons).symmetric_difference(truth).area <= 1e-9 * truth.area
    assert len(polygons[0].interiors) == 1
    hole = shapely.Polygon(polygons[0].interiors[0])
    assert hole.area == pytest.approx(12 * 8 * pixel_area, rel=1e-12)
    hx0, hy0, hx1, hy1 = hole.bounds
    ex0, ey0 = transform @ (30, 40)
    ex1, ey1 = transform @ (38, 28)
    assert (hx0, hy0, hx1, hy1) == pytest.approx((ex0, ey0, ex1, ey1), abs=1e-9)


def test_holes_are_kept_as_interiors():
    mask = np.zeros((30, 30), bool)
    mask[5:25, 5:25] = True
    mask[10:14, 10:14] = False
    mask[17:20, 15:21] = False
    (polygon,) = mask_to_polygons(mask, UTM)
    assert len(polygon.interiors) == 2
    assert sorted(shapely.Polygon(r).area for r in polygon.interiors) == [16 * 0.25, 18 * 0.25]
    assert shapely.Polygon(polygon.exterior).area == 400 * 0.25
    assert polygon.area == (400 - 16 - 18) * 0.25
    assert polygon.bounds == (500002.5, 3999987.5, 500012.5, 3999997.5)


def test_object_in_bottom_right_corner_of_a_large_mask():
    mask = np.zeros((1500, 2000), bool)
    mask[1490:1500, 1980:2000] = True
    mask[1495:1500, 1970:1980] = True   # an L shape touching both far edges
    polygons = mask_to_polygons(mask, UTM)
    assert len(polygons) == 1
    (polygon,) = polygons
    assert polygon.bounds == (500000 + 1970 * 0.5, 4000000 - 1500 * 0.5,
                              500000 + 2000 * 0.5, 4000000 - 1490 * 0.5)
    assert polygon.area == (200 + 50) * 0.25
    assert polygon.symmetric_difference(pixel_union(mask, UTM)).area == 0
    coords = all_coords(polygons)
    assert np.all((coords[:, 0] - 500000) % 0.5 == 0) and np.all((coords[:, 1] - 4000000) % 0.5 == 0)


def test_single_pixel_at_origin_and_at_far_corner():
    mask = np.zeros((7, 9), bool)
    mask[0, 0] = mask[6, 8] = True
    polygons = mask_to_polygons(mask, UTM, VectorOptions(min_pixels=0))
    assert sorted(p.bounds for p in polygons) == [
        (500000.0, 3999999.5, 500000.5, 4000000.0),
        (500004.0, 3999996.5, 500004.5, 3999997.0),
    ]


def test_specks_are_dropped_by_default_but_never_the_largest_part():
    mask = np.zeros((40, 40), bool)
    mask[10:20, 10:20] = True              # the object
    mask[30, 30] = True                    # 1 px
    mask[2, 2:5] = True                    # 3 px
    mask[35:37, 35:37] = True              # 4 px: kept
    kept = mask_to_polygons(mask, UTM)
    assert [p.area / 0.25 for p in kept] == [100, 4]
    assert [p.area / 0.25 for p in mask_to_polygons(mask, UTM, VectorOptions(min_pixels=0))] == [100, 4, 3, 1]
    assert len(mask_to_polygons(mask, UTM, VectorOptions(min_pixels=5))) == 1
    alone = np.zeros((9, 9), bool)
    alone[4, 4] = True                     # a one-pixel object is still an object
    assert [p.area for p in mask_to_polygons(alone, UTM)] == [0.25]
    assert VectorOptions().min_pixels == 4


def test_area_m2_is_the_same_in_every_crs():
    """One field of about 30 m x 40 m near 36 N: in UTM 33N, in degrees and in polar stereographic
    (EPSG:3413, whose planar area there is ~49 % too large), the same square metres."""
    from pyproj import Geod
    from rasterio.crs import CRS

    from samscape.vector import area_m2, reproject

    utm = CRS.from_epsg(32633)
    field = shapely.Polygon([(500000, 3999000), (500030, 3999000), (500030, 3999040), (500000, 3999040)],
                            [[(500010, 3999010), (500010, 3999020), (500020, 3999020), (500020, 3999010)]])
    (lonlat,) = reproject([field], utm, CRS.from_epsg(4326))
    truth = abs(Geod(ellps="WGS84").geometry_area_perimeter(shapely.geometry.polygon.orient(lonlat))[0])
    assert truth == pytest.approx(1100 / 0.9996**2, rel=2e-4)   # UTM's scale on its central meridian
    for epsg in (32633, 4326, 3413, 3857, 2263):
        (polygon,) = reproject([field], utm, CRS.from_epsg(epsg))
        assert area_m2(polygon, CRS.from_epsg(epsg)) == pytest.approx(truth, rel=1e-5), epsg
    (polar,) = reproject([field], utm, CRS.from_epsg(3413))
    assert polar.area / truth > 1.4                              # what the old `area` field said
    local = CRS.from_wkt('LOCAL_CS["site",LOCAL_DATUM["d",0],UNIT["foot",0.3048],AXIS["X",EAST],'
                         'AXIS["Y",NORTH]]')
    assert area_m2(shapely.box(0, 0, 10, 10), local) == pytest.approx(100 * 0.3048**2)


def test_simplified_mode_has_fewer_vertices_and_keeps_the_shape():
    radius = 40
    mask = disc(120, 60, 60, radius)
    pixel = mask_to_polygons(mask, UTM, VectorOptions(mode="pixel"))
    simple = mask_to_polygons(mask, UTM, VectorOptions(mode="simplified", tolerance=1.0))
    assert len(pixel) == len(simple) == 1
    (p,), (s,) = pixel, simple
    assert s.is_valid and s.geom_type == "Polygon"
    assert len(s.exterior.coords) < len(p.exterior.coords) / 2
    assert s.area == pytest.approx(p.area, rel=0.03)
    assert s.area == pytest.approx(math.pi * radius**2 * 0.25, rel=0.03)
    # Within the tolerance (1 pixel = 0.5 m) of the pixel outline.
    assert s.hausdorff_distance(p) <= 1.5 * 0.5

    # Every pixel centre at least 2 pixels inside the disc's edge is still inside.
    yy, xx = np.mgrid[0:120, 0:120]
    deep = (yy + 0.5 - 60) ** 2 + (xx + 0.5 - 60) ** 2 <= (radius - 2) ** 2
    rows, cols = np.nonzero(deep)
    centres = [UTM @ (c + 0.5, r + 0.5) for r, c in zip(rows, cols, strict=True)]
    assert shapely.contains_xy(s, np.array(centres)[:, 0], np.array(centres)[:, 1]).all()


def test_simplified_tolerance_is_in_pixels_and_larger_means_fewer_vertices():
    mask = disc(120, 60, 60, 40)
    fine = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
    coarse = Affine(2.0, 0, 300000.0, 0, -2.0, 5000000.0)

    def vertices(transform, tolerance):
        (p,) = mask_to_polygons(mask, transform, VectorOptions("simplified", tolerance))
        return len(p.exterior.coords)

    # Same mask, same tolerance in pixels: same outline whatever the pixel size.
    assert vertices(fine, 1.0) == vertices(coarse, 1.0)
    assert vertices(fine, 4.0) < vertices(fine, 1.0)
    (small_pixels,) = mask_to_polygons(mask, fine, VectorOptions("simplified", 1.0))
    (big_pixels,) = mask_to_polygons(mask, coarse, VectorOptions("simplified", 1.0))
    assert big_pixels.area == pytest.approx(small_pixels.area * 16, rel=1e-9)


def test_simplified_mode_keeps_holes():
    mask = disc(100, 50, 50, 40)
    mask &= ~disc(100, 50, 50, 15)
    (polygon,) = mask_to_polygons(mask, UTM, VectorOptions("simplified", 1.0))
    assert polygon.is_valid and len(polygon.interiors) == 1
    hole = shapely.Polygon(polygon.interiors[0])
    assert hole.area == pytest.approx(math.pi * 15**2 * 0.25, rel=0.06)
    assert hole.contains(shapely.Point(UTM @ (50, 50)))


def multi_blob_mask() -> np.ndarray:
    """Three squares: 2x2, 5x5 and 10x10 pixels (1, 6.25 and 25 m² at 0.5 m)."""
    mask = np.zeros((40, 40), bool)
    mask[1:3, 1:3] = True
    mask[10:15, 1:6] = True
    mask[20:30, 20:30] = True
    return mask


def test_max_polygon_only_keeps_the_largest():
    mask = multi_blob_mask()
    assert len(mask_to_polygons(mask, UTM)) == 3
    polygons = mask_to_polygons(mask, UTM, VectorOptions(max_polygon_only=True))
    assert len(polygons) == 1
    assert polygons[0].area == 25.0
    assert polygons[0].bounds == (500010.0, 3999985.0, 500015.0, 3999990.0)


def test_min_area_drops_smaller_polygons():
    mask = multi_blob_mask()
    kept = mask_to_polygons(mask, UTM, VectorOptions(min_area=6.25))
    assert [p.area for p in kept] == [25.0, 6.25]        # equal to the minimum: kept
    kept = mask_to_polygons(mask, UTM, VectorOptions(min_area=6.26))
    assert [p.area for p in kept] == [25.0]
    assert mask_to_polygons(mask, UTM, VectorOptions(min_area=100.0)) == []
    assert mask_to_polygons(mask, UTM, VectorOptions(min_area=100.0, max_polygon_only=True)) == []


def test_fill_holes_fills_only_holes_smaller_than_the_threshold():
    mask = np.zeros((40, 40), bool)
    mask[2:38, 2:38] = True
    mask[5:7, 5:7] = False       # 4 px  = 1 m²
    mask[20:26, 20:26] = False   # 36 px = 9 m²
    full = 36 * 36 * 0.25

    (none_filled,) = mask_to_polygons(mask, UTM, VectorOptions(fill_holes=0.0))
    assert len(none_filled.interiors) == 2 and none_filled.area == full - 10

    (small_filled,) = mask_to_polygons(mask, UTM, VectorOptions(fill_holes=5.0))
    assert len(small_filled.interiors) == 1
    assert shapely.Polygon(small_filled.interiors[0]).area == 9.0
    assert small_filled.area == full - 9

    (same_size,) = mask_to_polygons(mask, UTM, VectorOptions(fill_holes=9.0))
    assert len(same_size.interiors) == 1                 # 9 m² is not smaller than 9 m²

    (all_filled,) = mask_to_polygons(mask, UTM, VectorOptions(fill_holes=9.5))
    assert len(all_filled.interiors) == 0 and all_filled.area == full
    assert all_filled.is_valid


def test_empty_mask_gives_no_polygons():
    assert mask_to_polygons(np.zeros((50, 60), bool), UTM) == []
    assert mask_to_polygons(np.zeros((50, 60), bool), UTM, VectorOptions("simplified")) == []


def test_vector_options_defaults_and_modes():
    assert VECTORIZE_MODES == ("pixel", "simplified")
    options = VectorOptions()
    assert (options.mode, options.tolerance, options.max_polygon_only, options.min_area,
            options.fill_holes) == ("pixel", 1.0, False, 0.0, 0.0)
    VectorOptions("simplified", 0.0, True, 0.0, 0.0)  # zero is allowed everywhere


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"mode": "raster"}, "vectorize mode 'raster'"),
        ({"mode": "Pixel"}, "vectorize mode"),
        ({"tolerance": -0.5}, "tolerance must be a number >= 0"),
        ({"tolerance": float("nan")}, "tolerance"),
        ({"min_area": -1.0}, "min area must be a number >= 0"),
        ({"min_area": float("inf")}, "min area"),
        ({"fill_holes": -2.0}, "fill holes must be a number >= 0"),
        ({"fill_holes": float("-inf")}, "fill holes"),
        ({"min_pixels": -1}, "min pixels must be a number >= 0"),
    ],
)
def test_vector_options_rejects_bad_values(kwargs, needle):
    with pytest.raises(SettingsError, match=needle.replace("(", r"\(")):
        VectorOptions(**kwargs)


def gdal_polygons(mask: np.ndarray, transform: Affine) -> list[Polygon]:
    """GDAL's polygons of the True pixels (`rasterio.features.shapes`), in the raster order of their
    first pixel: where each exterior ring starts."""
    mask = mask.astype(np.uint8)
    polygons = [shape(g) for g, _ in rasterio.features.shapes(mask, mask=mask.astype(bool),
                                                              transform=transform)]
    return sorted(polygons, key=lambda p: np.round(~transform @ p.exterior.coords[0])[::-1].tolist())


def per_polygon_reference(mask: np.ndarray, transform: Affine, options: VectorOptions) -> list:
    """mask_to_polygons as it was before vectorised tracing: one shapely polygon at a time, traced
    by GDAL."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    shifted = transform @ Affine.translation(int(cols[0]), int(rows[0]))
    polygons = gdal_polygons(crop, shifted)
    if options.fill_holes > 0:
        polygons = [Polygon(p.exterior, [r for r in p.interiors if Polygon(r).area >= options.fill_holes])
                    for p in polygons]
    polygons = [p for p in polygons if p.area >= options.min_area]
    polygons.sort(key=lambda p: p.area, reverse=True)
    speck = options.min_pixels * abs(transform.a * transform.e - transform.b * transform.d)
    polygons = polygons[:1] + [p for p in polygons[1:] if p.area >= speck]
    if options.max_polygon_only:
        polygons = polygons[:1]
    if options.mode == "simplified":
        pixel = min(abs(transform.a), abs(transform.e))
        simple = [shapely.simplify(p, options.tolerance * pixel, preserve_topology=True) for p in polygons]
        polygons = [s if s.geom_type == "Polygon" and s.is_valid else p
                    for s, p in zip(simple, polygons, strict=True)]
    return polygons


def ragged_masks() -> list[np.ndarray]:
    """Masks with holes, many parts, parts touching at corners, single pixels and full edges."""
    rng = np.random.default_rng(7)
    masks = [blob_mask(), np.ones((5, 7), bool), np.eye(6, dtype=bool)]
    for size, p in ((64, 0.5), (120, 0.3), (200, 0.6), (97, 0.45)):
        masks.append(rng.random((size, size + 13)) < p)
    smooth = ndimage.gaussian_filter(rng.standard_normal((256, 256)), 3)
    masks += [smooth > 0, smooth > 0.05, np.pad(smooth < -0.02, 3)]
    return masks


@pytest.mark.parametrize("options", [
    VectorOptions(min_pixels=0), VectorOptions(), VectorOptions(min_area=2.0, min_pixels=2),
    VectorOptions(fill_holes=3.0), VectorOptions(max_polygon_only=True),
    VectorOptions(mode="simplified", tolerance=1.5),
], ids=["all", "default", "min-area", "fill-holes", "largest", "simplified"])
def test_vectorised_tracing_equals_per_polygon_construction(options):
    for mask in ragged_masks():
        for transform in (UTM, GEOGRAPHIC):
            ours = mask_to_polygons(mask, transform, options)
            reference = per_polygon_reference(mask, transform, options)
            assert [shapely.to_wkb(p) for p in ours] == [shapely.to_wkb(p) for p in reference]
    assert any(len(p.interiors) for p in mask_to_polygons(ragged_masks()[-3], UTM, VectorOptions()))


def test_trace_draws_gdal_rings_in_raster_order():
    mask = ragged_masks()[4].astype(np.uint8)
    expected = gdal_polygons(mask, UTM)
    traced = trace(mask, UTM)
    assert len(traced) == len(expected) > 100
    assert shapely.equals_exact(traced, np.array(expected, dtype=object), tolerance=0).all()
    assert len(trace(np.zeros((4, 4), np.uint8), UTM)) == 0


def test_trace_equals_gdal_on_random_masks():
    # saddles of one part (exterior and hole touching at a corner) and of two parts (two polygons),
    # islands in holes, parts on every border: every ring vertex for vertex, in map coordinates
    rng = np.random.default_rng(11)
    saddles = 0
    for _ in range(300):
        mask = rng.random(tuple(rng.integers(1, 40, 2))) < rng.random()
        for transform in (UTM, GEOGRAPHIC, Affine(0.3, 0.1, 5, 0.2, -0.4, 7)):  # rotated: GDAL's sums
            assert [shapely.to_wkb(p) for p in trace(mask, transform)] == \
                [shapely.to_wkb(p) for p in gdal_polygons(mask, transform)]
        saddles += int((mask[1:, 1:] & mask[:-1, :-1] & ~mask[1:, :-1] & ~mask[:-1, 1:]).sum())
    assert saddles > 1000
    pinch = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0]], bool)  # a hole touching the outside
    (polygon,) = trace(pinch, Affine.identity())
    assert polygon.is_valid and len(polygon.interiors) == 1


def test_reproject_equals_gdal_vertex_by_vertex_with_one_cached_transformer():
    utm = CRS.from_epsg(32633)
    polygons = mask_to_polygons(ragged_masks()[-3], UTM, VectorOptions())
    assert len(polygons) > 3 and any(p.interiors for p in polygons)
    for epsg, tolerance in ((4326, 1e-13), (3413, 1e-8), (3857, 1e-8), (2263, 1e-7)):
        dst = CRS.from_epsg(epsg)
        expected = np.array([shape(transform_geom(utm, dst, mapping(p))) for p in polygons])
        moved = np.array(reproject(polygons, utm, dst))  # PROJ through pyproj, not GDAL: last-bit differences
        assert shapely.equals_exact(moved, expected, tolerance=tolerance).all()
        assert crs_transformer(utm, dst) is crs_transformer(CRS.from_epsg(32633), CRS.from_epsg(epsg))
    assert reproject([], utm, CRS.from_epsg(4326)) == []


def test_specks_cleared_before_tracing_change_nothing():
    lattice = np.zeros((170, 170), bool)
    lattice[::2, ::2] = True  # 7225 one-pixel parts: 28 900 pixel edges, enough to clear specks
    with_blob = lattice.copy()
    with_blob[40:60, 30:75] = True
    three = lattice.copy()
    three[100, 100:103] = True  # every part a speck: the largest, three pixels, stays
    for mask, options in ((with_blob, VectorOptions()), (with_blob, VectorOptions(min_pixels=2.5)),
                          (three, VectorOptions()), (with_blob, VectorOptions(min_area=1e9))):
        ours = mask_to_polygons(mask, UTM, options)
        assert [shapely.to_wkb(p) for p in ours] == \
            [shapely.to_wkb(p) for p in per_polygon_reference(mask, UTM, options)]
    assert len(mask_to_polygons(with_blob, UTM)) == 1
    assert mask_to_polygons(three, UTM)[0].area == pytest.approx(3 * 0.25)


@pytest.mark.parametrize("kind", ["smooth", "ragged", "small", "holes"])
def test_trace_equals_shapes_with_a_mask_band(kind: str) -> None:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:200, 0:230]
    if kind == "smooth":
        mask = ((yy - 90) ** 2 + (xx - 120) ** 2 < 70 ** 2) | ((yy - 170) ** 2 + (xx - 30) ** 2 < 20 ** 2)
    elif kind == "ragged":
        mask = rng.random((200, 230)) < 0.5
    elif kind == "small":
        mask = rng.random((9, 7)) < 0.6
    else:  # holes, one with an island
        mask = (yy - 90) ** 2 + (xx - 120) ** 2 < 70 ** 2
        mask[60:70, 100:110] = mask[80:100, 130:150] = False
        mask[88:92, 138:142] = True
    mask = mask.astype(np.uint8)
    expected = [shapely.to_wkb(p) for p in gdal_polygons(mask, UTM)]
    assert [shapely.to_wkb(p) for p in trace(mask, UTM)] == expected


def test_min_area_and_fill_holes_are_square_metres_in_any_crs():
    mask = np.zeros((30, 30), bool)
    mask[5:25, 5:25] = True
    mask[10:14, 10:14] = False  # a hole of 16 pixels
    degrees = Affine(1e-5, 0, 15.0, 0, -1e-5, 36.0)  # a pixel: about 0.90 m × 1.11 m = 1.0 m²
    wgs84 = CRS.from_epsg(4326)
    (square,) = mask_to_polygons(mask, degrees, VectorOptions(min_area=300), wgs84)  # about 384 m²
    assert len(square.interiors) == 1
    assert mask_to_polygons(mask, degrees, VectorOptions(min_area=500), wgs84) == []
    (filled,) = mask_to_polygons(mask, degrees, VectorOptions(fill_holes=20), wgs84)
    assert not filled.interiors
    feet = Affine(10, 0, 1_000_000, 0, -10, 200_000)  # EPSG:2263 is in US feet: a pixel is 9.29 m²
    assert len(mask_to_polygons(mask, feet, VectorOptions(min_area=3500), CRS.from_epsg(2263))) == 1
    assert mask_to_polygons(mask, feet, VectorOptions(min_area=3600), CRS.from_epsg(2263)) == []
    utm = Affine(0.5, 0, 500000, 0, -0.5, 4000000)
    assert mask_to_polygons(mask, utm, VectorOptions(min_area=96), CRS.from_epsg(32633)) == \
        mask_to_polygons(mask, utm, VectorOptions(min_area=96))  # metres: as without a CRS
