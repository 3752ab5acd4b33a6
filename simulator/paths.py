"""Where the project's files live, and the toolchain environment ape needs.

perpsim is installed in editable mode from its repository, so the repository root (with
``contracts/``, ``node_modules/``, ``.build/`` and ``.solcx/``) is the parent of this package.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
BUILD_MANIFEST = PROJECT_ROOT / ".build" / "__local__.json"
SOLCX_DIR = PROJECT_ROOT / ".solcx"
NODE_BIN_DIR = PROJECT_ROOT / "node_modules" / ".bin"


def toolchain_env() -> None:
    """Point py-solc-x at the solcjs adapter before ape is imported (idempotent)."""
    os.environ.setdefault("SOLCX_BINARY_PATH", str(SOLCX_DIR))
