"""The README is the operator's reference: every setting and make target is in it."""
from __future__ import annotations

import re
from pathlib import Path

from killrvideo_reco.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_has_a_row_in_the_readme():
    names = [(field.alias or name).upper() for name, field in Settings.model_fields.items()]
    missing = [n for n in names if f"| `{n}` |" not in README]
    assert not missing, f"settings without a README row: {missing}"


def test_every_make_target_is_in_the_readme():
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE)
    assert "test" in targets and "run" in targets
    missing = [t for t in targets if f"make {t}" not in README]
    assert not missing, f"make targets the README does not name: {missing}"
