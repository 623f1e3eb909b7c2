"""Build the image's wheelhouse on the host: every runtime dependency of the lock as a wheel.

`pip wheel --require-hashes` fetches each locked file and checks it against the lock; a package
published only as an sdist is built into a wheel here, since the image build has no network and
no compilers. Such a wheel's hash is not in the lock (the lock pins the sdist), so the wheelhouse
gets its own copy of the lock with each built wheel's sha256 added to its package's hashes: the
image installs with `--no-index --require-hashes` against that copy.

Usage: python image/wheelhouse.py LOCK OUT_DIR
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_hashes(lock: str) -> dict[str, set[str]]:
    """Each locked package (normalised name) and the sha256 hashes the lock allows for it."""
    found: dict[str, set[str]] = {}
    current = None
    for line in lock.splitlines():
        match = REQUIREMENT.match(line)
        if match:
            current = normalise(match.group(1))
            found[current] = set()
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            if current is not None:
                found[current].add(digest)
    return found


def with_built_wheels(lock: str, wheelhouse: Path) -> str:
    """The lock, with the hash of every wheel in `wheelhouse` that the lock does not pin added."""
    allowed = locked_hashes(lock)
    extra: dict[str, list[str]] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name = normalise(wheel.name.split("-")[0])
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if name not in allowed:
            raise SystemExit(f"{wheel.name} is in the wheelhouse but not in the lock")
        if digest not in allowed[name]:
            extra.setdefault(name, []).append(digest)
    lines = []
    for line in lock.splitlines():
        match = REQUIREMENT.match(line)
        lines.append(line)
        if match and normalise(match.group(1)) in extra:
            # Right after the requirement line, inside its backslash-continued hash list.
            suffix = "".join(
                f" \\\n    --hash=sha256:{d}" for d in extra[normalise(match.group(1))]
            )
            lines[-1] = line.rstrip(" \\") + suffix + (" \\" if line.endswith("\\") else "")
    return "\n".join(lines) + "\n"


def main(lock_path: str, out: str) -> None:
    wheelhouse = Path(out)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    # The host's own pip constraints (if any) must not change what the lock says.
    env = {**os.environ, "PIP_CONSTRAINT": ""}
    argv = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--require-hashes"]
    subprocess.run([*argv, "-r", lock_path, "-w", str(wheelhouse)], check=True, env=env)
    lock = Path(lock_path).read_text()
    (wheelhouse / "requirements.lock").write_text(with_built_wheels(lock, wheelhouse))
    print(f"wheelhouse {wheelhouse}: {len(list(wheelhouse.glob('*.whl')))} wheels")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python image/wheelhouse.py LOCK OUT_DIR")
    main(sys.argv[1], sys.argv[2])
