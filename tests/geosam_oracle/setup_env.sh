#!/usr/bin/env bash
# Creates the Geo-SAM oracle's virtual environment (geosam 0.1.3 + Ultralytics on the CPU torch), apart
# from samscape's own, at ${SAMSCAPE_ORACLE_VENV:-/tmp/samscape-geosam-venv}. Idempotent: returns at
# once when the venv for these requirements is already there. Built beside the target and renamed into
# place under a lock, so a kill leaves the old venv or none, never half a one.
#
# torchvision: PyPI's 0.28.0 (the release for torch 2.13) is installed for its metadata, which
# Ultralytics reads at import; it cannot itself be imported on the CPU torch (its _C.so links
# libtorch_cuda.so), and the code paths the oracle runs never import it (check_env.py proves this
# after every run). See docs/geosam.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${SAMSCAPE_ORACLE_VENV:-/tmp/samscape-geosam-venv}"
key="$(cat "$here/requirements.txt" "$here/constraints.txt" | sha256sum | cut -c1-16)"
stamp="$venv/.samscape-oracle-$key"
[ -f "$stamp" ] && exit 0
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9  # one setup at a time; a killed one's staging folder is removed by the next
[ -f "$stamp" ] && exit 0
start=$SECONDS
rm -rf "$venv".staging-*
staging="$venv.staging-$$"
trap 'rm -rf "$staging"' EXIT
python3 -m venv "$staging"
"$staging/bin/python" -m pip install -q --disable-pip-version-check \
  -r "$here/requirements.txt" -c "$here/constraints.txt" 2> >(grep -v "^WARNING: Location" >&2)
touch "$staging/.samscape-oracle-$key"
YOLO_OFFLINE=1 YOLO_CONFIG_DIR="$staging/check-config" "$staging/bin/python" "$here/check_env.py" >/dev/null
rm -rf "$staging/check-config"
rm -rf "$venv"
mv "$staging" "$venv"
echo "geosam oracle venv ready at $venv in $((SECONDS - start)) s"
