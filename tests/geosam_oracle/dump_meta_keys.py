"""Writes the key → shape table of Meta's state dict for Geo-SAM registry names, as Ultralytics'
builders lay it out (they load Meta's checkpoints strictly), for tests/data/meta_keys/. Runs in the
oracle venv: `python dump_meta_keys.py OUT_DIR NAME...`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ultralytics.models.sam.build import sam_model_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("names", nargs="+", choices=sorted(sam_model_map))
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        state = sam_model_map[name](None).state_dict()
        table = {key: list(tensor.shape) for key, tensor in state.items()}
        (args.out_dir / f"{Path(name).stem}.json").write_text(json.dumps(table, indent=0) + "\n")
    print(json.dumps({"written": args.names}))


if __name__ == "__main__":
    main()
