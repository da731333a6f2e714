"""Commands that need no model start without torch (issue: every CLI call paid 2 s importing it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "pyogrio", "scipy", "pandas")

PROBE = f"""
HEAVY = {HEAVY!r}
import json, sys
from click.testing import CliRunner
from samscape.cli.main import cli
result = CliRunner().invoke(cli, sys.argv[1:])
print(json.dumps({{"exit": result.exit_code, "output": result.output,
                  "loaded": [m for m in HEAVY if m in sys.modules]}}))
"""


def _run(*args: str) -> dict:
    run = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("args", [["--help"], ["models", "list"], ["encode", "--help"], ["segment", "--help"],
                                  ["serve", "--help"], ["qgis", "--help"], ["demo", "--help"]])
def test_commands_that_need_no_model_import_no_torch(args: list[str]) -> None:
    answer = _run(*args)
    assert answer["exit"] == 0, answer["output"]
    assert answer["loaded"] == []


def test_info_reads_a_folder_without_torch(demo_root_768: Path) -> None:
    answer = _run("info", str(demo_root_768 / "features"))
    assert answer["exit"] == 0 and "chips:" in answer["output"]
    assert answer["loaded"] == []
    # --validate loads every chip: torch is needed there, and it works.
    validated = _run("info", "--validate", str(demo_root_768 / "features"))
    assert validated["exit"] == 0 and "0 problem(s)" in validated["output"]
    assert "torch" in validated["loaded"]


def test_the_server_starts_without_torch(tmp_path: Path) -> None:
    """`samscape serve` builds its app and answers /api/health before any source is opened."""
    probe = f"""
import json, sys
from fastapi.testclient import TestClient
from samscape.serve import Roots, Sources, create_app
roots = Roots.of({str(tmp_path)!r})
client = TestClient(create_app(roots, None, Sources(roots)), base_url="http://127.0.0.1")
print(json.dumps({{"status": client.get("/api/health").status_code,
                  "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"status": 200, "loaded": []}
