"""The interactive loop every front end uses: add prompts, preview, undo, clear, save, undo save."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from rasterio.crs import CRS

from ..errors import NothingToSaveError, SettingsError
from ..geo import Bounds, norm_crs
from ..vector import OutputLayer, SavedPolygon, VectorOptions, area_m2, reproject
from .prompts import FOREGROUND, PromptSet, make_box
from .segmenter import Segmenter, SegmentResult

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid() -> str:
    """A ULID: 48 bits of milliseconds since 1970 and 80 random bits, 26 Crockford base-32 digits
    (sorts by creation time)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


@dataclass(frozen=True)
class SavedGroup:
    """One save: its group id and the rows written (in the layer's CRS)."""

    group_id: str
    rows: tuple[SavedPolygon, ...]


def group_rows(result: SegmentResult, layer_crs: CRS, model: str, source: str,
               group_id: str | None = None) -> SavedGroup:
    """The layer rows of one object: one per polygon, reprojected from the result's CRS into the
    layer's, each with its area in m² (geodesic: the same whatever the layer's CRS)."""
    group_id = group_id or new_ulid()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    polygons = reproject(list(result.polygons), result.crs, layer_crs)
    prompts = result.prompts
    rows = tuple(
        SavedPolygon(
            geometry=p, group_id=group_id, group_size=len(polygons), area_m2=area_m2(p, layer_crs),
            fg_points=prompts.fg_count, bg_points=prompts.bg_count,
            box_used=int(prompts.box is not None), score=round(result.score, 6), model=model,
            source=source, created=created,
        )
        for p in polygons
    )
    return SavedGroup(group_id, rows)


def save_results(layer: OutputLayer, results: Sequence[SegmentResult], model: str, source: str
                 ) -> list[SavedGroup]:
    """Append each non-empty result to `layer` as its own group, in one write."""
    groups = [group_rows(r, layer.crs, model, source) for r in results if not r.is_empty]
    if groups:
        layer.append([row for g in groups for row in g.rows])
    return groups


class Session:
    """Prompts for one object at a time, in the front end's `crs` (default: the source's), and
    the saves made to `layer`. Thread-safe: one lock orders all calls.

    Every prompt change segments at once and returns the result (None while there is nothing to
    segment, e.g. only background points); a prompt that fails (outside the source) changes
    nothing. Sessions sharing one source can share its `lock` so only one segments at a time.
    """

    def __init__(self, segmenter: Segmenter, layer: OutputLayer | None = None,
                 crs: CRS | str | None = None, lock: threading.RLock | None = None) -> None:
        if not isinstance(segmenter, Segmenter):
            raise SettingsError(f"a Session takes a Segmenter, not {type(segmenter).__name__}: give "
                                "Segmenter(samscape.open_source(PATH))")
        if not isinstance(layer, (OutputLayer, type(None))):
            raise SettingsError(f"layer must be an OutputLayer, not {type(layer).__name__}: give "
                                "OutputLayer(PATH, crs)")
        self.segmenter = segmenter
        self.layer = layer
        self.crs = norm_crs(crs) if crs is not None else segmenter.source.crs
        self._steps: list[tuple[PromptSet, SegmentResult | None]] = [(PromptSet(self.crs), None)]
        self._saved: list[str] = []
        self._lock = lock or threading.RLock()

    @property
    def prompts(self) -> PromptSet:
        return self._steps[-1][0]

    @property
    def result(self) -> SegmentResult | None:
        return self._steps[-1][1]

    @property
    def saved_groups(self) -> list[str]:
        """Group ids saved in this session, oldest first (those not undone)."""
        return list(self._saved)

    def _segment(self, prompts: PromptSet) -> SegmentResult | None:
        return None if prompts.is_empty else self.segmenter.segment(prompts)

    def _push(self, prompts: PromptSet) -> SegmentResult | None:
        with self._lock:
            result = self._segment(prompts)
            self._steps.append((prompts, result))
            return result

    def add_point(self, x: float, y: float, label: int = FOREGROUND) -> SegmentResult | None:
        with self._lock:
            return self._push(self.prompts.add_point(x, y, label))

    def set_box(self, xmin: float, ymin: float, xmax: float, ymax: float) -> SegmentResult | None:
        """The object's box (SAM takes one; a new box replaces the previous one)."""
        with self._lock:
            return self._push(self.prompts.with_box(Bounds(xmin, ymin, xmax, ymax)))

    def undo(self) -> SegmentResult | None:
        """Remove the last prompt; returns the result as it was before it."""
        with self._lock:
            if len(self._steps) > 1:
                self._steps.pop()
            return self.result

    def set_layer(self, layer: OutputLayer | None) -> None:
        """Save to `layer` from now on; saves made to the previous one can no longer be undone."""
        with self._lock:
            self.layer = layer
            self._saved.clear()

    def set_vector(self, vector: VectorOptions) -> SegmentResult | None:
        """Vectorise with `vector` from now on, the results already made included (their masks
        are traced again; nothing is decoded); returns the current result."""
        with self._lock:
            self.segmenter = Segmenter(self.segmenter.source, vector, self.segmenter.max_chips)
            self._steps = [(p, r if r is None else r.traced(vector)) for p, r in self._steps]
            return self.result

    def clear(self) -> None:
        with self._lock:
            self._steps = [(PromptSet(self.crs), None)]

    def preview(self, x: float | None = None, y: float | None = None, label: int = FOREGROUND,
                box: tuple[float, float, float, float] | None = None) -> SegmentResult | None:
        """The result with a temporary point and/or box added to the prompts; nothing is kept."""
        with self._lock:
            prompts = self.prompts
            if x is not None and y is not None:
                prompts = prompts.add_point(x, y, label)
            if box is not None:
                prompts = prompts.with_box(make_box(*box))
            return self._segment(prompts)

    def _to_save(self) -> SegmentResult:
        result = self.result
        if result is None or result.is_empty:
            raise NothingToSaveError("there is no result to save: add a foreground point or a box")
        return result

    def save(self) -> SavedGroup:
        """Write the current result to the layer as one group and start the next object."""
        with self._lock:
            if self.layer is None:
                raise NothingToSaveError("this session has no output layer; give one to save")
            result = self._to_save()
            source = self.segmenter.source
            group = save_results(self.layer, [result], source.model_id, source.name)[0]
            self._saved.append(group.group_id)
            self.clear()
            return group

    def take(self, crs: CRS | str) -> SavedGroup:
        """The current result as the rows of one group in `crs`, for a layer the caller writes
        itself (nothing is written, and `undo_save` knows nothing of it); the next object starts,
        as after a save."""
        with self._lock:
            result = self._to_save()
            source = self.segmenter.source
            group = group_rows(result, norm_crs(crs), source.model_id, source.name)
            self.clear()
            return group

    def undo_save(self) -> str:
        """Remove the last saved group from the layer, exactly its rows; returns its id.
        NothingToSaveError if the layer no longer holds it (it is forgotten all the same)."""
        with self._lock:
            if not self._saved or self.layer is None:
                raise NothingToSaveError("there is no save to undo in this session")
            group_id = self._saved.pop()
            if not self.layer.remove_group(group_id):
                raise NothingToSaveError(f"the last save (group {group_id}) is no longer in "
                                         f"'{self.layer.label}' (the file was removed or replaced); "
                                         "nothing was removed")
            return group_id
