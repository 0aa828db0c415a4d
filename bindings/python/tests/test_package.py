# SPDX-License-Identifier: MIT
"""The package installs with pip from Debian's setuptools (no index, no build isolation) and carries
its type hints; the README quick starts and the Python example run."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PACKAGE_DIR, SOURCE_DIR, child_env


def test_pip_installs_the_package_with_its_type_marker(tmp_path: Path) -> None:
    import importlib.util  # not imported here: setuptools' distutils shim must load in pip's process
    missing = [m for m in ("pip", "setuptools") if importlib.util.find_spec(m) is None]
    assert not missing, f"Debian python3-pip / python3-setuptools missing: {missing} (scripts/install-deps.sh)"
    target = tmp_path / "site"
    build = tmp_path / "src"
    import shutil
    shutil.copytree(PACKAGE_DIR, build, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--quiet", "--target", str(target), str(build)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "shmipc" / "py.typed").exists()
    env = child_env()
    env["PYTHONPATH"] = str(target)
    r = subprocess.run([sys.executable, "-c", "import shmipc; print(shmipc.__file__, shmipc.version())"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(target))


def _python_blocks(path: Path) -> list:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("readme", [SOURCE_DIR / "README.md", PACKAGE_DIR / "README.md"], ids=lambda p: str(p.parent.name))
def test_readme_python_quick_start_runs(readme: Path, tmp_path: Path) -> None:
    blocks = _python_blocks(readme)
    assert blocks, f"no python block in {readme}"
    for code in blocks:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(),
                           cwd=tmp_path, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "hello" in r.stdout
    import shmipc
    try:
        shmipc.pubsub.unlink("sensor")
    except shmipc.Error:
        pass


def test_python_example_runs(tmp_path: Path) -> None:
    ex = SOURCE_DIR / "examples" / "python" / "pubsub_numpy.py"
    r = subprocess.run([sys.executable, str(ex), "200"], capture_output=True, text=True, env=child_env(),
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "received 200 of 200 frames in order: ok" in r.stdout


def test_package_version_is_the_c_library_version() -> None:
    import shmipc
    assert shmipc.__version__ == shmipc.version()
    m = re.search(r'^version = "([^"]+)"', (PACKAGE_DIR / "pyproject.toml").read_text(), flags=re.M)
    assert m and m.group(1) == shmipc.__version__
