"""The training Job's entry point in each pod: ``python -m mlops.train.pod --workdir DIR -- TORCHRUN_ARGS…``.

The pod's root filesystem is read-only and the training image holds the repository at its working
directory (``/workspace``), but training writes into the repository (data pulled by DVC, checkpoints,
the artifact and ``dvc add``, the version record). So this

1. copies the working directory to ``DIR`` (an emptyDir), without machine-local state: ``.mlops/``,
   ``.dvc/cache``, ``.dvc/tmp``, ``.venv`` and ``__pycache__``. A copy a previous start of this same
   pod left is reused, so its checkpoints resume; a new pod (a retried index) starts from scratch;
2. runs ``torchrun TORCHRUN_ARGS`` in ``DIR`` (SIGTERM and SIGINT are passed on) and exits with its code;
3. when torchrun succeeded, prints the files training added under ``models/*/versions/`` (the record and
   its DVC pointer: the artifact went to the DVC remote) as a hand-back block (``handback.encode``) for
   ``mlops train --backend kubernetes`` to collect from the log. Only the node whose rank 0 recorded
   has any.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from mlops.train.handback import encode

SKIP_AT_ROOT = frozenset({".mlops", ".venv"})
SKIP_IN_DVC = frozenset({"cache", "tmp"})
SKIP_ANYWHERE = frozenset({"__pycache__"})
USAGE = "usage: python -m mlops.train.pod --workdir DIR -- TORCHRUN_ARGS..."


def _say(line: str) -> None:
    print(f"mlops: {line}", flush=True)


def copy_repository(source: Path, workdir: Path) -> tuple[int, int]:
    """Copy ``source`` to ``workdir`` (writable by this user); (files, bytes). Atomic: a partial copy is redone."""
    source = source.resolve()
    partial = workdir.with_name(workdir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)

    def skip(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        out = {n for n in names if n in SKIP_ANYWHERE}
        if here == source:
            out |= {n for n in names if n in SKIP_AT_ROOT}
        elif here == source / ".dvc":
            out |= {n for n in names if n in SKIP_IN_DVC}
        for name in names:  # sockets, FIFOs and devices are not files to copy (a FIFO would block)
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                out.add(name)
        return out

    workdir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, partial, symlinks=True, ignore=skip)
    files = size = 0
    for folder, dirs, names in os.walk(partial):  # the image's files may be read-only: the copy must not be
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | stat.S_IRWXU)
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                info = os.stat(path)
                os.chmod(path, info.st_mode | stat.S_IRUSR | stat.S_IWUSR)
                files, size = files + 1, size + info.st_size
    os.replace(partial, workdir)
    return files, size


def version_files(root: Path) -> set[str]:
    """``models/*/versions/*.yaml`` and ``*.dvc`` under ``root``, as repository paths."""
    return {p.relative_to(root).as_posix() for p in root.glob("models/*/versions/*")
            if p.suffix in (".yaml", ".dvc") and p.is_file()}


def run_torchrun(workdir: Path, args: list[str]) -> int:
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(workdir.parent)}  # git sees the copy, nothing above it
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", *args], cwd=workdir, env=env)

    def forward(signum: int, _frame: FrameType | None) -> None:
        proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    return proc.wait()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args:
        print(USAGE, file=sys.stderr)
        return 2
    own, torchrun = args[: args.index("--")], args[args.index("--") + 1:]
    workdirs = [a.split("=", 1)[1] for a in own if a.startswith("--workdir=")]
    if len(workdirs) != 1 or len(own) != 1 or not torchrun:
        print(USAGE, file=sys.stderr)
        return 2
    source, workdir = Path.cwd(), Path(workdirs[0]).absolute()
    if workdir.is_dir():
        _say(f"reusing {workdir}, copied by an earlier start of this pod (its checkpoints resume)")
    else:
        started = time.monotonic()
        files, size = copy_repository(source, workdir)
        _say(f"copied the repository {source} to {workdir} ({files} files, {size / 2**20:.1f} MiB) in "
             f"{time.monotonic() - started:.1f}s")
    code = run_torchrun(workdir, torchrun)
    if code != 0:
        _say(f"torchrun exited with code {code}")
        return code if code > 0 else 128 - code  # killed by a signal: the shell's convention
    new = sorted(version_files(workdir) - version_files(source))
    if not new:
        _say("torchrun succeeded; no version record was added on this node")
        return 0
    _say(f"handing back {', '.join(new)}")
    lines = encode({rel: (workdir / rel).read_text("utf-8") for rel in new})
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
