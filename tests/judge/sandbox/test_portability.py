"""The sandbox on macOS, checked here: its Seatbelt profile as text, and its pure parts run with
``sys.platform`` and the file system faked (Linux has no Seatbelt; docs/sandbox.md says what
was verified where). And the refusal: where only a weak sandbox works, nothing runs unless
weak isolation was allowed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from winnow.judge.sandbox import backends, choice, limits, processes, seatbelt
from winnow.judge.sandbox.limits import SandboxLimits


def test_the_profile_denies_by_default_and_allows_no_network() -> None:
    text = seatbelt.profile("/private/var/folders/x/run", readable=["/Users/ann/project"], hidden=["/Users/ann"])
    lines = text.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"]
    assert not any(line.startswith("(allow network") for line in lines), "no network rule may allow anything"
    assert "(deny network*)" in lines
    assert not re.search(r"\(allow [^)]*launchservices", text), "no way to open an application outside"


def test_the_profile_writes_only_the_run_folder_and_reads_the_home_only_where_asked() -> None:
    text = seatbelt.profile("/private/var/folders/x/run", readable=["/Users/ann/project"], hidden=["/Users/ann"])
    [writes] = [line for line in text.splitlines() if line.startswith("(allow file-write*")]
    assert '(subpath "/private/var/folders/x/run")' in writes and '(literal "/dev/null")' in writes
    assert "/Users" not in writes and '(subpath "/")' not in writes
    denied = text.index('(deny file-read* (subpath "/Users/ann"))')
    allowed = text.index('(allow file-read* (subpath "/Users/ann/project")')
    assert denied < allowed, "the later rule wins in SBPL: the exception must come after the denial"


def test_profile_paths_are_quoted() -> None:
    text = seatbelt.profile('/tmp/a "b"\\c', hidden=[])
    assert '(subpath "/tmp/a \\"b\\"\\\\c")' in text


def test_on_macos_the_backend_is_seatbelt_and_wraps_with_sandbox_exec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delenv(choice.ENV_FORCE, raising=False)
    monkeypatch.setattr(backends.Backend, "exists_here", lambda self: self.platform in ("darwin", ""))
    ran: list[str] = []

    def fake_execute(argv: list[str], files: dict[str, str], timeout_s: float, lim: SandboxLimits, backend: backends.Backend) -> limits.RawRun:
        ran.append(backend.name)
        return limits.RawRun(0, False, "winnow-ok\n", "", 0.01, backend.name)

    monkeypatch.setattr(choice, "execute", fake_execute)
    monkeypatch.setattr(choice, "remove_stale_dirs", lambda: None)
    probed = choice._probe()
    assert probed.backend is backends.SEATBELT and probed.strong and ran == ["seatbelt"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "main.py").write_text("print(1)\n")
    wrapped = backends.wrap(backends.SEATBELT, ["python3", "main.py"], ["main.py"], tmp_path, SandboxLimits(), 5.0)
    assert wrapped.argv[:2] == [seatbelt.SANDBOX_EXEC, "-p"] and wrapped.argv[3] == "--"
    assert "(deny default)" in wrapped.argv[2]
    assert wrapped.cwd == str(tmp_path / "work") and (tmp_path / "work" / "main.py").exists()
    assert wrapped.env is not None and wrapped.env["HOME"] == str(tmp_path / "work")


def test_homes_hidden_on_macos_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(limits, "as_root", lambda: True)
    monkeypatch.setattr(os.path, "isdir", lambda d: d in ("/var/root", "/Users"))
    assert limits.home_dirs() == ["/var/root", "/Users"]


def test_without_pidfd_or_kqueue_a_run_is_waited_for_by_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portable path (no pidfd, no kqueue): wait without reaping, then the leader is still
    ours to kill as a group and to reap."""
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    monkeypatch.delattr(processes.select, "kqueue", raising=False)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"], start_new_session=True)
    assert processes.wait_unreaped(proc.pid, 10.0)
    os.kill(proc.pid, 0)  # a zombie still holds its number: nothing else can have it
    assert proc.wait() == 0
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    t0 = time.monotonic()
    assert not processes.wait_unreaped(slow.pid, 0.3)
    assert time.monotonic() - t0 < 5
    os.killpg(slow.pid, 9)
    assert slow.wait() == -9


def test_a_run_leaves_nothing_of_its_group_behind(tmp_path: Path) -> None:
    """What the code started in the background dies with the run, whatever the backend."""
    marker = tmp_path / "alive"
    child = f"import time, pathlib; time.sleep(1.5); pathlib.Path({str(marker)!r}).touch()"
    code = f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {child!r}])\n"
    out, err = tmp_path / "out", tmp_path / "err"
    rc, timed_out, _ = processes.start_and_wait([sys.executable, "-c", code], str(tmp_path), None, out, err, 10.0)
    assert (rc, timed_out) == (0, False)
    time.sleep(2.0)
    assert not marker.exists(), "the background child outlived its run"


def test_only_a_weak_sandbox_refuses_unless_allowed(tmp_path: Path) -> None:
    """With bubblewrap unusable (a failing ``bwrap`` first on PATH), a run refuses and says
    what to install; with weak isolation allowed it runs under unshare."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}")
    env.pop(choice.ENV_FORCE, None)
    program = (
        "from winnow.judge.sandbox.choice import SandboxUnavailable, allow_weak_isolation, isolation\n"
        "from winnow.judge.sandbox.run import run_python\n"
        "try:\n"
        "    run_python('print(1)')\n"
        "except SandboxUnavailable as exc:\n"
        "    print('REFUSED', exc)\n"
        "allow_weak_isolation()\n"
        "print('WEAK', isolation().backend.name, run_python('print(1)').status)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    refused = next(line for line in done.stdout.splitlines() if line.startswith("REFUSED"))
    assert "files read-only and the network unreachable" in refused and "Permission denied" in refused
    assert "apt-get install bubblewrap" in refused
    if os.path.exists("/usr/bin/unshare"):
        assert "WEAK unshare passed" in done.stdout, done.stdout
