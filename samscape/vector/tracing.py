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

    h, w = mask.shape
    stride = w + 1
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = mask != 0
    codes = (padded[:-1, :-1] | (padded[:-1, 1:] << 1) | (padded[1:, :-1] << 2)
             | (padded[1:, 1:] << 3)).ravel()  # the (h+1)·(w+1) corners, raster order
    corners = np.flatnonzero((codes != 0) & (codes != 15)).astype(np.int32)
    if not len(corners):
        return np.empty(0, dtype=object)

    # edges: one leaving each corner, two leaving a saddle (its two in slots 0 and 1)
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
    step = np.array([-stride, 1, stride, -1], np.int32)
    end = start + step[direction]
    successor = edge_at[end]

    parts = None
    into_saddle = np.flatnonzero(np.isin(codes[end], _SADDLES))
    if len(into_saddle):
        parts = ndimage.label(mask)[0]
        at = end[into_saddle]
        arriving = direction[into_saddle]
        six = codes[at] == 6
        # around the 1 pixel: arriving south → east (slot 0), north → west (1) at a 6; east → north
        # (0), west → south (1) at a 9. Around the 0 pixel: the other slot.
        slot = np.where(six, arriving != _SOUTH, arriving != _EAST)
        y, x = at // stride, at % stride
        one_part = np.where(six, parts[y - 1, x] == parts[y, x - 1], parts[y - 1, x - 1] == parts[y, x])
        successor[into_saddle] += (slot ^ one_part).astype(np.int32)

    before = np.empty_like(successor)
    before[successor] = np.arange(len(successor), dtype=np.int32)
    order, ring_starts = _rings(successor, before)
    at_corner = direction[order] != direction[before[order]]
    is_start = np.zeros(len(successor), bool)
    is_start[ring_starts] = True
    ring_of = np.cumsum(is_start[order]) - 1
    order, ring_of = order[at_corner], ring_of[at_corner]
    vertex = start[order]
    sizes = np.bincount(ring_of, minlength=len(ring_starts))
    offsets = np.concatenate([[0], np.cumsum(sizes)])

    first = start[ring_starts]
    hole = direction[ring_starts] == _EAST
    polygon = np.cumsum(~hole) - 1
    if hole.any() and not hole[1:].all():
        if parts is None:
            parts = ndimage.label(mask)[0]
        y, x = first // stride, first % stride
        polygon = parts[np.where(hole, y - 1, y), x] - 1
        rings = np.lexsort((np.arange(len(hole)), hole, polygon))
    else:
        rings = np.arange(len(hole))

    sizes = sizes[rings] + 1  # closed rings
    ring_offsets = np.concatenate([[0], np.cumsum(sizes)])
    source = np.arange(ring_offsets[-1]) - np.repeat(ring_offsets[:-1] - offsets[rings], sizes)
    source[ring_offsets[1:] - 1] = offsets[rings]
    cols, rows = (vertex[source] % stride).astype(np.float64), (vertex[source] // stride).astype(np.float64)
    coords = np.column_stack([transform.a * cols + transform.b * rows + transform.c,
                              transform.d * cols + transform.e * rows + transform.f])
    polygons = polygon[rings]
    polygon_offsets = np.concatenate([[0], np.flatnonzero(np.diff(polygons)) + 1, [len(rings)]])
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (ring_offsets, polygon_offsets))


def _rings(successor: np.ndarray, before: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cycles of the permutation `successor` (E,) (`before` its inverse): all edges, ring
    after ring, each ring from its lowest edge (rings in the order of that edge), and those lowest
    edges (R,)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components, depth_first_order

    n = len(successor)
    ones = np.ones(n, np.int8)
    graph = csr_matrix((ones, successor, np.arange(n + 1, dtype=np.int32)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="weak")
    # labels are given from edge 0 up, so each ring's lowest edge is where a new label first shows
    starts = np.flatnonzero(np.diff(np.maximum.accumulate(label), prepend=-1)).astype(np.int32)
    chained = successor.copy()
    chained[before[starts[:-1]]] = starts[1:]  # one path: each ring's last edge to the next ring
    keep = np.ones(n, bool)
    keep[before[starts[-1]]] = False
    indptr = np.concatenate([[0], np.cumsum(keep, dtype=np.int32)])
    path = csr_matrix((ones[1:], chained[keep], indptr), shape=(n, n))
    return depth_first_order(path, int(starts[0]), directed=True, return_predecessors=False), starts
