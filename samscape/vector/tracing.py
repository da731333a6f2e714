"""Pixel-exact outlines of a binary mask: the polygons GDAL's polygonize draws (4-connected parts,
holes kept), found with array operations instead of a scan line by line.

Every pixel edge between a 1 and a 0 pixel is an edge of a ring, walked with the 1 pixels on its
left. A pixel corner where only diagonal pixels are 1 (a saddle) has two rings through it: when
the two 1 pixels belong to one part, the rings turn around the 0 pixel, so that part gets an
exterior and a hole that touch at the corner (GDAL's valid form); otherwise they turn around the
1 pixels, and the two parts stay two polygons. A ring edge joins two corners where a boundary
turns; the rings are the cycles of the edges' successors, found in one depth-first walk
(`scipy.sparse.csgraph`).

Result: GDAL's rings exactly (same vertices, start at the ring's first corner in raster order,
exterior counter-clockwise in (column, row), holes after it in the order of their first corner);
polygons in the raster order of their first pixel (GDAL emits them as their last row ends).
"""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine

# A corner's code: which of its four pixels are 1, as top-left | top-right << 1 | bottom-left << 2
# | bottom-right << 3. Directions: 0 north (row - 1), 1 east, 2 south, 3 west.
_NORTH, _EAST, _SOUTH, _WEST = range(4)
MAX_PIXELS = 1 << 28  # indices are int32, and the ring walk has three per ring edge


def _leaving() -> np.ndarray:
    """The direction of the one edge that leaves a corner with the 1 pixels on its left, per code
    (-1 for none, or for a saddle's two)."""
    table = np.full(16, -1, np.int8)
    for code in range(16):
        tl, tr, bl, br = ((code >> bit) & 1 for bit in range(4))
        edges = ((_NORTH, tl > tr), (_EAST, tr > br), (_SOUTH, br > bl), (_WEST, bl > tl))
        ways = [d for d, one_on_left in edges if one_on_left]
        if len(ways) == 1:
            table[code] = ways[0]
    return table


_LEAVING = _leaving()


def trace(mask: np.ndarray, transform: Affine) -> np.ndarray:
    """The polygons of the 1 pixels of `mask` (H, W), in `transform`'s coordinates: an object array
    of shapely Polygons, in the raster order of their first pixel."""
    from scipy import ndimage  # not at import: commands that trace nothing start without scipy

    if (mask.shape[0] + 2) * (mask.shape[1] + 2) > MAX_PIXELS:
        raise ValueError(f"a {mask.shape[0]} x {mask.shape[1]} mask is too large to trace "
                         f"(at most {MAX_PIXELS:,} pixels with its border)")
    stride = mask.shape[1] + 2
    pixels = np.pad(mask != 0, 1).view(np.uint8).ravel()
    corner, direction, end, successor = _edges(pixels, stride)
    if not len(corner):
        return np.empty(0, dtype=object)
    parts = None
    end_codes = _codes(pixels, end, stride)
    into_saddle = np.flatnonzero((end_codes == 6) | (end_codes == 9))
    if len(into_saddle):
        parts = ndimage.label(mask)[0]
        at = end[into_saddle]
        arriving = direction[into_saddle]
        six = end_codes[into_saddle] == 6
        y, x = at // stride, at % stride
        one_part = np.where(six, parts[y - 1, x] == parts[y, x - 1], parts[y - 1, x - 1] == parts[y, x])
        # around the 1 pixel: arriving south → east (slot 0), north → west (1) at a 6; east → north
        # (0), west → south (1) at a 9. Around the 0 pixel: the other slot.
        slot = np.where(six, arriving != _SOUTH, arriving != _EAST)
        successor[into_saddle] += (slot ^ one_part).astype(np.int32)

    order, ring_at = _rings(successor)
    new_ring = np.zeros(len(order), np.int32)
    new_ring[ring_at[1:]] = 1
    first_edges = order[ring_at]
    hole = direction[first_edges] == _EAST  # a ring leaves its first corner east (hole) or south
    polygon = np.cumsum(~hole) - 1
    if hole.any() and not hole[1:].all():  # holes and several exteriors: whose are the holes
        if parts is None:
            parts = ndimage.label(mask)[0]
        y, x = corner[first_edges] // stride, corner[first_edges] % stride
        polygon = parts[np.where(hole, y - 1, y), x] - 1
    return _polygons(corner[order], np.cumsum(new_ring), polygon, hole, stride, transform)


def _edges(pixels: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ring edges between the turning pixel corners of the padded mask `pixels` ((H+2)·(W+2),
    0 or 1, rows `stride` long; corner i is the top-left one of pixel i): one leaving each corner
    where a boundary turns, two leaving a saddle (in slots 0 and 1), in the corners' order; a
    straight run of pixel edges is one ring edge. Returns their start and end corners, directions
    and successors (E,); the successor of an edge into a saddle is the saddle's slot 0.

    The corner an edge reaches is the next turning corner its way: the next or previous one in
    raster order going east or west, in column order going south or north."""
    tl, tr, bl, br = pixels[:-stride - 1], pixels[1:-stride], pixels[stride:-1], pixels[stride + 1:]
    corners = _flatnonzero(((tl ^ tr) | (bl ^ br)) & ((tl ^ bl) | (tr ^ br)))  # not straight, not all one
    if not len(corners):
        return corners, corners, corners, corners
    column = corners % stride  # a stable sort by column keeps each column's corners top down
    column_order = np.argsort(column.astype(np.uint16 if stride <= 1 << 16 else np.int64),
                              kind="stable").astype(np.int32)
    column_rank = np.empty_like(column_order)
    column_rank[column_order] = np.arange(len(corners), dtype=np.int32)

    corner_codes = _codes(pixels, corners, stride)
    saddle = (corner_codes == 6) | (corner_codes == 9)
    per_corner = 1 + saddle.astype(np.int32)
    first_edge_of = np.cumsum(per_corner, dtype=np.int32) - per_corner
    source = np.repeat(np.arange(len(corners), dtype=np.int32), per_corner)
    direction = _LEAVING[corner_codes].repeat(per_corner)
    saddle_edges = first_edge_of[saddle]
    direction[saddle_edges] = np.where(corner_codes[saddle] == 6, _EAST, _NORTH)
    direction[saddle_edges + 1] = np.where(corner_codes[saddle] == 6, _WEST, _SOUTH)
    target = source + (2 - direction)  # east: the next corner, west: the one before
    upright = np.flatnonzero((direction & 1) == 0)
    target[upright] = column_order[column_rank[source[upright]] + direction[upright] - 1]
    return corners[source], direction, corners[target], first_edge_of[target]


def _codes(pixels: np.ndarray, corners: np.ndarray, stride: int) -> np.ndarray:
    """The codes of `corners` of the padded mask `pixels` (see `_edges`)."""
    return (pixels[corners] | (pixels[corners + 1] << 1) | (pixels[corners + stride] << 2)
            | (pixels[corners + stride + 1] << 3))


def _flatnonzero(flags: np.ndarray) -> np.ndarray:
    """`np.flatnonzero` of the uint8 0/1 `flags` (N,) as int32, 8 flags at a time where few are set,
    as at a smooth mask's corners (5× faster there)."""
    whole = len(flags) - len(flags) % 8
    words = np.flatnonzero(flags[:whole].view(np.uint64))
    if 4 * len(words) > whole // 8:  # many set: unpacking the words costs more than it saves
        return np.flatnonzero(flags).astype(np.int32)
    rows, cols = np.nonzero(flags[:whole].reshape(-1, 8)[words])
    found = np.concatenate([words[rows] * 8 + cols, np.flatnonzero(flags[whole:]) + whole])
    return found.astype(np.int32)


def _polygons(vertices: np.ndarray, ring_of: np.ndarray, polygon: np.ndarray, hole: np.ndarray,
              stride: int, transform: Affine) -> np.ndarray:
    """Shapely polygons from ring vertices (corners' raster indices, ring after ring, `ring_of`
    each one's ring) and each ring's polygon and kind: a polygon's exterior first, then its
    holes."""
    rings = np.lexsort((np.arange(len(hole)), hole, polygon))
    sizes = np.bincount(ring_of, minlength=len(hole))
    offsets = np.concatenate([[0], np.cumsum(sizes)])[rings]
    sizes = sizes[rings] + 1  # closed
    ring_offsets = np.concatenate([[0], np.cumsum(sizes)])
    source = np.arange(ring_offsets[-1]) - np.repeat(ring_offsets[:-1] - offsets, sizes)
    source[ring_offsets[1:] - 1] = offsets
    cols = (vertices[source] % stride).astype(np.float64)
    rows = (vertices[source] // stride).astype(np.float64)
    coords = np.column_stack([transform.c + cols * transform.a + rows * transform.b,  # GDAL's order
                              transform.f + cols * transform.d + rows * transform.e])
    polygons = polygon[rings]
    polygon_offsets = np.concatenate([[0], np.flatnonzero(np.diff(polygons)) + 1, [len(rings)]])
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (ring_offsets, polygon_offsets))


def _rings(successor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cycles of the permutation `successor` (E,): all edges, ring after ring, each ring from
    its lowest edge (rings in the order of that edge), and the positions where rings start (R,).

    One depth-first walk: a spine of E more nodes, the i-th leading to edge i and then to the next
    spine node, enters each ring at its lowest edge and walks it around before going on."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import depth_first_order

    n = len(successor)
    spine = np.arange(n, 2 * n, dtype=np.int32)
    indices = np.concatenate([successor, np.column_stack([spine - n, spine + 1]).ravel()[:-1]])
    indptr = np.concatenate([np.arange(n + 1, dtype=np.int32),
                             np.arange(n + 2, 3 * n, 2, dtype=np.int32), [3 * n - 1]])
    graph = csr_matrix((np.ones(len(indices), np.int8), indices, indptr), shape=(2 * n, 2 * n))
    walk = depth_first_order(graph, n, directed=True, return_predecessors=False)
    on_spine = walk >= n
    entered = np.flatnonzero(on_spine[:-1] & ~on_spine[1:]) + 1
    return walk[~on_spine], entered - np.cumsum(on_spine)[entered - 1]
