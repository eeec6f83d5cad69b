from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

CCUSAGE_VERSION = "20.0.24"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own promptpulse home and no real Claude logs."""
    home = tmp_path / "pp-home"
    monkeypatch.setenv("PROMPTPULSE_HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-claude-here"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return home


@pytest.fixture(scope="session")
def ccusage() -> str:
    """The real ccusage v20 binary, installed from the npm registry on first use."""
    exe = os.environ.get("PROMPTPULSE_CCUSAGE")
    if exe:
        return exe
    cache = Path.home() / ".cache" / "promptpulse-dev" / "ccusage"
    exe_path = cache / "node_modules" / ".bin" / "ccusage"
    if not exe_path.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("ccusage comparison needs npm (Node 20) to install ccusage")
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "package.json").write_text('{"name":"ccusage-ref","private":true}')
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", f"ccusage@{CCUSAGE_VERSION}"],
            cwd=cache,
            check=True,
            capture_output=True,
        )
    return str(exe_path)
