"""What the benchmark scripts share: where the repository and the kgfuse binary are, and the
check for their Python packages."""

import importlib.util
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def kgfuse_binary():
    """The kgfuse executable: $KGFUSE_BIN, $CARGO_TARGET_DIR/release, or target/release."""
    if os.environ.get("KGFUSE_BIN"):
        candidates = [Path(os.environ["KGFUSE_BIN"])]
    else:
        candidates = []
        if os.environ.get("CARGO_TARGET_DIR"):
            candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "kgfuse")
        candidates.append(REPO_ROOT / "target" / "release" / "kgfuse")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    tried = ", ".join(str(p) for p in candidates)
    sys.exit(f"error: kgfuse binary not found (tried {tried}); build it with "
             "`cargo build --release` or set KGFUSE_BIN")


def require(script, pip_hint, *modules):
    """Exit with the pip command if one of the named modules cannot be found."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            sys.exit(f"error: missing Python package `{name}` for {sys.executable}; "
                     f"install it with: {pip_hint}\n(see the setup in {Path(script).name}'s "
                     "docstring)")
