"""`SamBackend.encode` on the device path: features cast to the storage dtype before they come
back, one compact tensor per chip, stage seconds; and a demo folder stored bitwise as the
CPU path before it stored it."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from test_preprocess import preprocess_before_the_device_path

import samscape
from samscape.features import FeatureFolder
from samscape.models import SamBackend, autocast_dtype, load_backend
from samscape.models.backend import ENCODE_STAGES
from samscape.planning import plan_encoding
from samscape.raster import RasterSource
from samscape.settings import settings_with


@pytest.fixture(scope="module", params=["tiny-random-sam", "tiny-random-sam2"])
def backend(request: pytest.FixtureRequest) -> SamBackend:
    return load_backend(request.param, device="cpu")


def chips() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return [torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
            for shape in ((256, 256, 3), (256, 180, 3), (256, 256, 3))]


def owns_its_storage(t: torch.Tensor) -> bool:
    return t.untyped_storage().nbytes() == t.numel() * t.element_size()


def test_features_come_back_in_the_dtype_asked_cast_from_the_same_values(backend: SamBackend) -> None:
    full = backend.encode(chips(), mixed_precision=False)
    half = backend.encode(chips(), mixed_precision=False, dtype=torch.float16)
    assert len(full) == len(half) == 3
    for a, b in zip(full, half, strict=True):
        assert a.keys() == b.keys() == set(backend.feature_names)
        for name in a:
            assert a[name].dtype == torch.float32 and b[name].dtype == torch.float16
            assert torch.equal(b[name], a[name].to(torch.float16))
            assert b[name].to(torch.float16).contiguous() is b[name]  # write_chip's cast: a no-op
            # one chip's file holds that chip, not its whole batch (torch.save keeps a view's storage)
            assert owns_its_storage(a[name]) and owns_its_storage(b[name])
            assert not b[name].is_inference() and b[name].device.type == "cpu"


def test_encode_adds_the_busy_seconds_of_each_step(backend: SamBackend) -> None:
    seconds: dict[str, float] = {}
    backend.encode(chips(), mixed_precision=False, seconds=seconds)
    assert set(seconds) == set(ENCODE_STAGES) and all(v > 0 for v in seconds.values())
    first = dict(seconds)
    backend.encode(chips()[:1], mixed_precision=False, seconds=seconds)
    assert all(seconds[k] > first[k] for k in ENCODE_STAGES)


def features_before(backend: SamBackend, images: list[torch.Tensor], mixed: bool
                    ) -> list[dict[str, torch.Tensor]]:
    """Features as `SamBackend.encode` returned them before the device path (CPU preprocessing,
    float32 copies back), cast as `write_chip` then cast them for a float16 folder."""
    pixels = preprocess_before_the_device_path(backend.preprocessing, images).to(backend.device)
    reduced = autocast_dtype(backend.device) if mixed else None
    autocast = torch.autocast("cpu", dtype=reduced) if reduced else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        out = backend.model.get_image_embeddings(pixels)
    cpu = {"image_embeddings": out.float().cpu()}
    return [{name: t[i].to(torch.float16) for name, t in cpu.items()} for i in range(len(images))]


def test_a_float16_demo_folder_holds_bitwise_what_the_cpu_path_before_stored(make_raster, tmp_path) -> None:
    data = np.random.default_rng(5).integers(1, 256, (3, 520, 400), dtype=np.uint8)
    raster = make_raster(data=data)
    settings = settings_with(None, model="demo", device="cpu", batch_size=3)
    samscape.encode(str(raster), tmp_path / "ff", settings, progress=False)
    folder = FeatureFolder.open(tmp_path / "ff")
    assert folder.metadata.dtype == "float16"
    with RasterSource(raster) as source:
        plan = plan_encoding(source, settings)
        grid = list(plan.chips)
        assert sorted(folder.records) == [c.chip_id for c in grid] and len(grid) == 12
        for start in range(0, len(grid), 3):  # the loop's batches: no chip here is nodata
            batch = grid[start:start + 3]
            images = [torch.from_numpy(source.read_chip(plan.read_spec, c.window)) for c in batch]
            for chip, expected in zip(batch, features_before(plan.backend, images, plan.mixed_precision),
                                      strict=True):
                stored = folder.load_chip(chip.chip_id)
                assert stored.keys() == expected.keys()
                for name in stored:
                    assert torch.equal(stored[name], expected[name]), (chip.chip_id, name)


def test_a_float32_chip_file_holds_one_chip_not_its_batch(make_raster, tmp_path) -> None:
    raster = make_raster(width=400, height=400)
    samscape.encode(str(raster), tmp_path / "ff", model="tiny-random-sam", dtype="float32", batch_size=4,
                    progress=False)
    folder = FeatureFolder.open(tmp_path / "ff")
    one_chip = sum(4 * c * h * w for c, h, w in folder.metadata.feature_shapes.values())
    for chip_id in folder.records:
        assert folder.chip_file(chip_id).stat().st_size < one_chip + 4096
        assert all(owns_its_storage(t) for t in folder.load_chip(chip_id).values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_on_cuda_chips_and_features_travel_pinned_and_match_the_cpu() -> None:
    cpu = load_backend("tiny-random-sam2", device="cpu")
    cuda = load_backend("tiny-random-sam2", device="cuda")
    images = [c.pin_memory() for c in chips()] + [chips()[0]]  # one not pinned: pinned on the way
    pre = cpu.preprocessing
    torch.testing.assert_close(pre(images, torch.device("cuda")).cpu(), pre(images), atol=1e-4, rtol=0)
    seconds: dict[str, float] = {}
    on_gpu = cuda.encode(images, mixed_precision=False, dtype=torch.float16, seconds=seconds)
    on_cpu = cpu.encode(images, mixed_precision=False, dtype=torch.float16)
    assert set(seconds) == set(ENCODE_STAGES) and all(v > 0 for v in seconds.values())
    for a, b in zip(on_gpu, on_cpu, strict=True):
        for name in a:
            assert a[name].is_pinned() and a[name].dtype == torch.float16 and owns_its_storage(a[name])
            torch.testing.assert_close(a[name].float(), b[name].float(), atol=2e-2, rtol=2e-2)
