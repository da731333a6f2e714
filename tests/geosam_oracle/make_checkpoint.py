"""Writes a random-weight checkpoint under a Geo-SAM registry name (sam_b.pt, sam2_t.pt, ...) in
Meta's layout, the one Ultralytics loads: SAM's state dict bare, SAM 2's under "model". The model is
Ultralytics' own builder for that name; every parameter then gets seeded noise, so that no two
weights are equal (zero-initialised ones included) and a key mapped to the wrong place shows.
Runs in the oracle venv: `python make_checkpoint.py NAME OUT_DIR [--seed N]` → OUT_DIR/NAME."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from ultralytics.models.sam import build


def random_state(name: str, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    # The builder takes SAM 2.1's extra (video) modules from "sam2.1" in the checkpoint's name and
    # then loads that file: build under the name, without loading, so a SAM 2.1 file has them.
    build._load_checkpoint = lambda model, checkpoint: model
    model = build.sam_model_map[name](name)
    noise = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, param in model.named_parameters():
            param.add_(torch.randn(param.shape, generator=noise) * 0.02)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(build.sam_model_map))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    state = random_state(args.name, args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / args.name
    torch.save(state if args.name.startswith("sam_") else {"model": state}, target)
    print(json.dumps({"checkpoint": str(target), "tensors": len(state)}))


if __name__ == "__main__":
    main()
