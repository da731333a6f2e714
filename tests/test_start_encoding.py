"""How an encoding runs on this machine (batch size, compiling) and that it never changes what
the folder holds: `planning.start_encoding`, `encode`'s result and resume."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from samscape import encode
from samscape.features import FeatureFolder
from samscape.models import SamBackend, load_backend
from samscape.models.tuning import CPU_BATCH_SIZE
from samscape.planning import COMPILING, plan_encoding, start_encoding
from samscape.raster import RasterSource
from samscape.settings import EncodeSettings

TINY = "tiny-random-sam"


def fresh() -> SamBackend:
    """A backend of its own (compiling changes a backend; the process's shared one stays eager)."""
    shared = load_backend(TINY, device="cpu")
    return SamBackend(shared.spec, copy.deepcopy(shared.model), shared.info, shared.device)


@pytest.mark.parametrize(("batch_size", "chips", "expected"), [
    ("auto", 50, CPU_BATCH_SIZE), ("auto", 1, 1), (8, 50, 8), (8, 3, 3), (8, 0, 8), ("auto", 0, 1)])
def test_the_batch_size_is_the_setting_or_the_devices_at_most_the_chips(
        make_raster, batch_size, chips, expected) -> None:
    steps: list[str] = []
    with RasterSource(str(make_raster())) as source:
        settings = EncodeSettings(model=TINY, device="cpu", batch_size=batch_size)
        start = start_encoding(plan_encoding(source, settings), settings, chips, steps.append)
    assert start.batch_size == expected and not start.compiled and not start.compiling
    assert steps == []  # no probe off CUDA, nothing compiled


def test_compile_is_a_step_before_the_first_batch_and_only_where_allowed(make_raster) -> None:
    with RasterSource(str(make_raster())) as source:
        settings = EncodeSettings(model=TINY, device="cpu", batch_size=4, compile=True)
        plan = plan_encoding(source, settings, backend=fresh())
        steps: list[str] = []
        assert start_encoding(plan, settings, 10, steps.append, allow_compile=False).compiler is None
        assert start_encoding(plan, settings, 0, steps.append).compiler is None
        assert steps == []
        start = start_encoding(plan, settings, 10, steps.append)
    assert steps == [COMPILING] and start.compiling and start.compiled and start.batch_size == 4
    assert plan.backend.model.get_image_embeddings is start.compiler


def test_a_run_with_another_batch_size_or_precision_resumes_the_same_encoding(
        make_raster, tmp_path: Path) -> None:
    raster = str(make_raster())

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        encode(raster, tmp_path / "ff", model=TINY, batch_size=1, progress=stop)
    assert "batch" not in FeatureFolder.open(tmp_path / "ff").metadata.model_dump_json()
    resumed = encode(raster, tmp_path / "ff", model=TINY, batch_size="auto", progress=False)
    assert resumed.already_done == 1 and resumed.encoded == 11
    assert resumed.batch_size == CPU_BATCH_SIZE and not resumed.compiled
    again = encode(raster, tmp_path / "ff", model=TINY, batch_size=5, mixed_precision=False,
                   progress=False)
    assert (again.already_done, again.encoded, again.batch_size) == (12, 0, 5)


def test_an_auto_run_reports_the_size_it_chose(make_raster, tmp_path: Path) -> None:
    result = encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False)
    assert result.batch_size == CPU_BATCH_SIZE and result.encoded == 12
