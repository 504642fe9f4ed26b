"""Scratch folders (service/scratch.py): what a dead process left is removed, nothing else."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from service import scratch


def _dead_pid() -> int:
    """The id of a process that has ended (and been waited for)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_folders_of_dead_processes_are_removed_and_the_rest_kept(tmp_path: Path) -> None:
    host = socket.gethostname()
    mine = scratch.make("7", tmp_path)
    (mine / "upload").write_bytes(b"email\r\n")
    dead = tmp_path / f"import-8-pid{_dead_pid()}@{host}-abc1_x"
    dead.mkdir()
    (dead / "upload").write_bytes(b"email\r\n")
    dead_cli = tmp_path / f"import-cli-pid{_dead_pid()}@{host}-xyz"
    dead_cli.mkdir()
    alive = tmp_path / f"import-9-pid{os.getppid()}@{host}-def"  # the process that started the tests
    alive.mkdir()
    elsewhere = tmp_path / f"import-11-pid{_dead_pid()}@other-host.example-ghi"  # its pids are not ours
    elsewhere.mkdir()
    other = tmp_path / "import-10-abc"  # not named by this module: not ours to judge
    other.mkdir()

    assert mine.name.startswith(f"import-7-pid{os.getpid()}@{host}-")
    assert scratch.sweep(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [mine.name, alive.name, elsewhere.name, other.name])
    assert scratch.sweep(tmp_path / "absent") == 0
