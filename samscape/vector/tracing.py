"""Pixel-exact outlines of a binary mask: the polygons GDAL's polygonize draws (4-connected parts,
holes kept), found with array operations instead of a scan line by line.

Every pixel edge between a 1 and a 0 pixel is an edge of a ring, walked with the 1 pixels on its
left. A pixel corner where only diagonal pixels are 1 (a saddle) has two rings through it: when
the two 1 pixels belong to one part, the rings turn around the 0 pixel, so that part gets an
exterior and a hole that touch at the corner (GDAL's valid form); otherwise they turn around the
1 pixels, and the two parts stay two polygons. The rings are the cycles of the edges' successors
(`scipy.sparse.csgraph`), kept at their corners only.

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
_SADDLES = (6, 9)  # top-right and bottom-left 1; top-left and bottom-right 1


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

    stride = mask.shape[1] + 1
    padded = np.pad(mask != 0, 1).astype(np.uint8)
    codes = (padded[:-1, :-1] | (padded[:-1, 1:] << 1) | (padded[1:, :-1] << 2)
             | (padded[1:, 1:] << 3)).ravel()  # the (H+1)·(W+1) pixel corners, raster order
    start, direction, end, successor = _edges(codes, stride)
    if not len(start):
        return np.empty(0, dtype=object)
    parts = None
    into_saddle = np.flatnonzero(np.isin(codes[end], _SADDLES))
    if len(into_saddle):
        parts = ndimage.label(mask)[0]
        at = end[into_saddle]
        arriving = direction[into_saddle]
        six = codes[at] == 6
        y, x = at // stride, at % stride
        one_part = np.where(six, parts[y - 1, x] == parts[y, x - 1], parts[y - 1, x - 1] == parts[y, x])
        # around the 1 pixel: arriving south → east (slot 0), north → west (1) at a 6; east → north
        # (0), west → south (1) at a 9. Around the 0 pixel: the other slot.
        slot = np.where(six, arriving != _SOUTH, arriving != _EAST)
        successor[into_saddle] += (slot ^ one_part).astype(np.int32)

    order, ring_at = _rings(successor)
    before = np.empty_like(successor)
    before[successor] = np.arange(len(successor), dtype=np.int32)
    new_ring = np.zeros(len(order), np.int32)
    new_ring[ring_at[1:]] = 1
    ring_of = np.cumsum(new_ring)
    at_corner = direction[order] != direction[before[order]]  # straight runs keep their ends only
    vertices, ring_of = start[order[at_corner]], ring_of[at_corner]

    first_edges = order[ring_at]
    hole = direction[first_edges] == _EAST  # a ring leaves its first corner east (hole) or south
    polygon = np.cumsum(~hole) - 1
    if hole.any() and not hole[1:].all():  # holes and several exteriors: whose are the holes
        if parts is None:
            parts = ndimage.label(mask)[0]
        y, x = start[first_edges] // stride, start[first_edges] % stride
        polygon = parts[np.where(hole, y - 1, y), x] - 1
    return _polygons(vertices, ring_of, polygon, hole, stride, transform)


def _edges(codes: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ring edges of the pixel corners' `codes` (raster order, `stride` corners a row): one
    leaving each corner on a boundary, two leaving a saddle (in slots 0 and 1), in the corners'
    order. Returns their start and end corners, directions and successors (E,); the successor of an
    edge into a saddle is the saddle's slot 0."""
    corners = np.flatnonzero((codes != 0) & (codes != 15)).astype(np.int32)
    corner_codes = codes[corners]
    saddle = (corner_codes == 6) | (corner_codes == 9)
    per_corner = 1 + saddle.astype(np.int32)
    first_edge_of = np.cumsum(per_corner, dtype=np.int32) - per_corner
    start = np.repeat(corners, per_corner)
    direction = _LEAVING[corner_codes].repeat(per_corner)
    saddle_edges = first_edge_of[saddle]
    direction[saddle_edges] = np.where(corner_codes[saddle] == 6, _EAST, _NORTH)
    direction[saddle_edges + 1] = np.where(corner_codes[saddle] == 6, _WEST, _SOUTH)
    edge_at = np.zeros(codes.size, np.int32)
    edge_at[corners] = first_edge_of
    end = start + np.array([-stride, 1, stride, -1], np.int32)[direction]
    return start, direction, end, edge_at[end]


def _polygons(vertices: np.ndarray, ring_of: np.ndarray, polygon: np.ndarray, hole: np.ndarray,
              stride: int, transform: Affine) -> np.ndarray:
    """Shapely polygons from ring vertices (corner indices, ring after ring, `ring_of` each one's
    ring) and each ring's polygon and kind: a polygon's exterior first, then its holes."""
    rings = np.lexsort((np.arange(len(hole)), hole, polygon))
    sizes = np.bincount(ring_of, minlength=len(hole))
    offsets = np.concatenate([[0], np.cumsum(sizes)])[rings]
    sizes = sizes[rings] + 1  # closed
    ring_offsets = np.concatenate([[0], np.cumsum(sizes)])
    source = np.arange(ring_offsets[-1]) - np.repeat(ring_offsets[:-1] - offsets, sizes)
    source[ring_offsets[1:] - 1] = offsets
    cols = (vertices[source] % stride).astype(np.float64)
    rows = (vertices[source] // stride).astype(np.float64)
    coords = np.column_stack([transform.a * cols + transform.b * rows + transform.c,
                              transform.d * cols + transform.e * rows + transform.f])
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
