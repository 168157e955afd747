"""Run tests or the fuzzer with the C extension `_cstream` built under AddressSanitizer + UBSan.

The C paths (kernels/cstream.c: the network, the guard; kernels/trackcore.c: each raw sample) read
untrusted input; this builds them with -fsanitize=address,undefined into a temporary folder (the
checkout's own build is left alone) and runs pytest, or bench/fuzz.py, with that build loaded in its place
(the sanitizer runtimes preloaded, leak detection off: CPython's own allocations are not ours to judge):

    .venv/bin/python tools/sanitize.py pytest test/unit/core test/unit/model test/unit/kernels/test_kernels_fused.py
    .venv/bin/python tools/sanitize.py fuzz --cases 3000 --seed 7

Any sanitizer finding aborts the run with its report (exit status non-zero).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOADER = """
import importlib.util, runpy, sys
spec = importlib.util.spec_from_file_location("uav_traj_predictor.kernels._cstream", {library!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
sys.argv = {argv!r}
if sys.argv[0] == "pytest":
    import pytest
    sys.exit(pytest.main(sys.argv[1:]))
runpy.run_path({fuzz!r}, run_name="__main__")
"""


def runtime(name: str) -> str:
    return subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True,
                          check=True).stdout.strip()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("pytest", "fuzz"):
        print(__doc__)
        return 2
    work = Path(tempfile.mkdtemp(prefix="sanitize."))
    flags = "-fsanitize=address,undefined -fno-omit-frame-pointer -g"
    env = dict(os.environ, CFLAGS=flags, LDFLAGS="-fsanitize=address,undefined")
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(work / "lib"),
                    "--build-temp", str(work / "tmp")], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    library = next((work / "lib").rglob("_cstream*.so"))
    if argv[0] == "pytest":           # run from test/ (the repository root would shadow the installed package)
        args = ["pytest", "-p", "no:cacheprovider", *(a[5:] if a.startswith("test/") else a for a in argv[1:])]
    else:
        args = ["fuzz.py", *argv[1:]]
    code = LOADER.format(library=str(library), argv=args, fuzz=str(REPO / "bench" / "fuzz.py"))
    env = dict(os.environ, LD_PRELOAD=f"{runtime('libasan.so')}:{runtime('libubsan.so')}",
               ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO / "test" if argv[0] == "pytest" else "/tmp",
                          env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
