"""Meta-format checkpoints imported into samscape give what Ultralytics' own model gives on the
same checkpoint: geosam's FeatureCacheBuilder encodes the real GeoTIFF with random weights named as
its registry expects; samscape imports that very file (`samscape models import FILE --as ID`) and
encodes Ultralytics' preprocessed input of the same chip, then decodes a point from the stored
features. Also checks, on Ultralytics' own tensors, the preprocessing docs/geosam.md describes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from samscape.cli.main import cli
from samscape.models import load_backend

from .harness import Oracle, imported_id

POINT = (400.0, 300.0)  # in the model's 1024² input pixels
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


@pytest.fixture(scope="module")
def reference(oracle: Oracle, geosam_folder: Callable[..., Path], geosam_checkpoints: dict[str, Path],
              tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict]:
    """`reference(name)`: reference.py's tensors for the first chip of geosam's folder."""
    done: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in done:
            out = tmp_path_factory.mktemp("reference") / f"{name}.pt"
            oracle.run("reference.py", geosam_folder(name), geosam_checkpoints[name], *POINT, out)
            done[name] = torch.load(out, weights_only=True)
        return done[name]

    return get


@pytest.mark.parametrize("name", ["sam_b.pt", "sam2_t.pt"])
def test_imported_checkpoint_matches_ultralytics(reference: Callable[[str], dict],
                                                 geosam_checkpoints: dict[str, Path], name: str) -> None:
    ref = reference(name)
    model_id = imported_id(name)
    result = CliRunner().invoke(cli, ["models", "import", str(geosam_checkpoints[name]), "--as", model_id])
    assert result.exit_code == 0, result.output
    backend = load_backend(model_id, device="cpu")
    with torch.inference_mode():
        out = backend.model.get_image_embeddings(ref["pixels"])
    if name == "sam2_t.pt":
        theirs = [*ref["features"]["high_res_feats"], ref["features"]["image_embed"]]
        ours = dict(zip(backend.feature_names, (t[0] for t in out), strict=True))
    else:
        theirs, out = [ref["features"]], [out]
        ours = {"image_embeddings": out[0][0]}
    for mine, expected in zip(out, theirs, strict=True):
        torch.testing.assert_close(mine, expected, atol=1e-4 * float(expected.abs().max()), rtol=0)
    low_res, iou = backend.decode_low_res(ours, (1024, 1024), points=torch.tensor([POINT]), multimask=False)
    torch.testing.assert_close(low_res, ref["low_res"], atol=1e-4 * float(ref["low_res"].abs().max()), rtol=0)
    torch.testing.assert_close(iou, ref["iou"], atol=1e-5, rtol=1e-4)


def test_ultralytics_preprocessing_as_documented(reference: Callable[[str], dict]) -> None:
    """The 384 × 256 chip: resized to 1024 × 683 (long side 1024), placed top-left, padded with 114,
    channels reversed (geosam hands RGB, Ultralytics takes it for BGR), then normalised with the
    ImageNet means in R, G, B order, so the first input channel is blue over red's mean."""
    ref = reference("sam2_t.pt")
    image = ref["image"]  # (256, 384, 3) uint8 as geosam passed it
    assert tuple(image.shape) == (256, 384, 3) and image.dtype == torch.uint8
    raw = ref["pixels"][0] * STD + MEAN  # back to 0–255 values, Ultralytics' channel order
    assert torch.allclose(raw[:, 683:, :], torch.tensor(114.0), atol=1e-3)
    resized = F.interpolate(image.permute(2, 0, 1)[None].float(), size=(683, 1024), mode="bilinear",
                            align_corners=False)[0]
    for c in range(3):
        close = (raw[c, :683] - resized[2 - c]).abs() <= 1.01  # cv2's fixed-point rounding
        assert close.float().mean() > 0.999, c
    # and not in RGB order: red and blue differ in this scene
    assert (raw[0, :683] - resized[0]).abs().mean() > 4 * (raw[0, :683] - resized[2]).abs().mean()
