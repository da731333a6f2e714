#!/usr/bin/env bash
# Encoding throughput on a GPU machine that has torch and transformers but not samscape's other
# needs: install those from wheels, install samscape without dependencies, run
# benchmarks/bench_encode.py on CUDA for a SAM ViT-B-sized and a SAM 2 Hiera-T-sized model (random
# weights), print one table (Markdown) of chips/s and busy shares.
#
#   bash benchmarks/gpu_encode.sh WHEELS
#       on the GPU machine; WHEELS: a folder holding the wheels below for its Python
#   bash benchmarks/gpu_encode.sh --download WHEELS [PYTHON_VERSION]
#       where pip reaches PyPI: fetch those wheels for CPython PYTHON_VERSION (default 3.12, the
#       GPU machine's) on x86-64 Linux into WHEELS (48 MiB for 3.12; the GPU machine takes 64 MiB with the checkout)
#
# Settings from the environment: DEVICE (cuda), SIZES ("vit-b sam2-tiny"), BENCH_ARGS (more
# options for bench_encode.py), SITE (where the wheels and samscape are installed,
# /tmp/samscape-site), RESULTS (where the logs and JSON go: $OUT if set, else a new temporary
# folder), PYTHON (python3). DEVICE=cpu SIZES=tiny runs the whole script without a GPU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
# What `samscape.encode` and the benchmark import beyond torch, transformers, numpy, pyarrow,
# huggingface_hub, safetensors, tqdm, click, attrs, certifi and pyparsing (never pyogrio).
NEEDED=(
  rasterio==1.4.4 affine==3.0.1 cligj==0.7.2 click-plugins==1.1.1.2
  pyproj==3.7.2 shapely==2.2.0
  pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2
  typing-extensions==4.16.0 platformdirs==4.14.8
)

if [[ ${1:-} == --download ]]; then
  dest=${2:?give the folder to put the wheels in}
  version=${3:-3.12}
  platforms=()
  for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
           manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
  done
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$version" --implementation cp \
    "${platforms[@]}" -d "$dest" "${NEEDED[@]}"
  du -sh "$dest"
  exit 0
fi

wheels=${1:?usage: gpu_encode.sh WHEELS (a folder of wheels), or gpu_encode.sh --download WHEELS}
ls "$wheels"/*.whl >/dev/null
SITE=${SITE:-/tmp/samscape-site}
RESULTS=${RESULTS:-${OUT:-$(mktemp -d)}}
DEVICE=${DEVICE:-cuda}
SIZES=${SIZES:-vit-b sam2-tiny}

export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
rm -rf "$SITE"
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
  "$wheels"/*.whl
# samscape itself from this checkout; its build needs only setuptools, which the machine has
build=$(mktemp -d)
cp -r "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/samscape" "$ROOT/qgis_plugin" "$build/"
"$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --upgrade \
  --target "$SITE" "$build"
rm -rf "$build"
export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
# the benchmark imports samscape from $SITE (sys.path[0] is benchmarks/, not the checkout)
(cd / && "$PY" -c "import samscape; assert samscape.__file__.startswith('$SITE'), samscape.__file__")
[[ $DEVICE == cuda ]] && { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true; }
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"

for size in $SIZES; do
  echo "== $size on $DEVICE"
  # shellcheck disable=SC2086  # BENCH_ARGS: several options
  "$PY" "$ROOT/benchmarks/bench_encode.py" --device "$DEVICE" --size "$size" \
    --json "$RESULTS/encode-$size.json" ${BENCH_ARGS:-} 2>&1 | tee "$RESULTS/encode-$size.log"
done

"$PY" - "$RESULTS" $SIZES <<'EOF'
import json
import sys
from pathlib import Path

results, sizes = Path(sys.argv[1]), sys.argv[2:]
print()
print("| model | device | batch | chips | baseline | model alone | reading | writing | end to end "
      "| e2e / model | e2e / baseline | busy: read, upload, model, download, write |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for size in sizes:
    r = json.loads((results / f"encode-{size}.json").read_text())
    c, s = r["chips_per_second"], r["busy_share"]
    busy = ", ".join(f"{100 * s[k]:.0f}%" for k in ("read", "upload", "model", "download", "write"))
    print(f"| {size} | {r['device']} | {r['batch']} | {r['chips']} | {c['baseline']:.1f} | {c['model']:.1f} "
          f"| {c['read']:.1f} ({r['readers']} readers) | {c['write']:.1f} ({r['writers']} writers) "
          f"| **{c['end_to_end']:.1f}** | {100 * c['end_to_end'] / c['model']:.0f}% "
          f"| {c['end_to_end'] / c['baseline']:.1f}x | {busy} |")
print(f"\nchips/s; read and write shares are per thread. Logs and JSON: {results}")
EOF
