"""The import contracts (.importlinter) hold on the code, and each one fails when a
deliberate violation is planted in a copy of the package."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

VIOLATIONS = {
    "Layers": ("service/fallback.py", "from killrvideo_reco.api import deps\n"),
    "Only store/ imports the Cassandra driver": ("service/fallback.py", "import cassandra\n"),
    "store/ is imported only by": ("api/routes/health.py",
                                   "from killrvideo_reco.store import schema\n"),
    "domain/ is pure": ("domain/vectors.py", "from killrvideo_reco import settings\n"),
    "PySpark only in the Spark engine": ("service/runs.py", "import pyspark\n"),
}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / ".importlinter")],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def copy_of_package(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "killrvideo_reco", tmp_path / "killrvideo_reco",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_the_code_keeps_every_contract(tmp_path):
    result = lint_imports(copy_of_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_each_contract_fails_on_a_planted_violation(tmp_path, contract):
    root = copy_of_package(tmp_path)
    module, line = VIOLATIONS[contract]
    path = root / "killrvideo_reco" / module
    text = path.read_text()
    # After the module docstring and `from __future__`, where an import would go.
    anchor = "from __future__ import annotations\n"
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + line, 1))
    result = lint_imports(root)
    assert result.returncode != 0
    assert "Contracts: 4 kept, 1 broken." in result.stdout, result.stdout
    report = result.stdout.split("Broken contracts", 1)[1]
    assert report.split("-\n", 2)[1].strip().startswith(contract), report
