#!/usr/bin/env bash
# Does requirements.txt resolve for CPython 3.10 (Ubuntu 22.04: ROS 2 Humble, Jetson JetPack 6)?
# pip resolves the whole set for this machine's python3.10 (x86_64), and again for aarch64 with binary
# wheels only (pure-Python packages that ship only a source archive are left out of that one: they
# install anywhere). torch is left out: the Jetson recipe keeps JetPack's own build.
# Downloads metadata and wheels (a few hundred MB, cached by pip); installs nothing.
# Usage: tools/check_requirements_py310.sh [PYTHON3.10]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-}
if [ -z "$py" ]; then   # the first python3.10 that runs (a pyenv shim may exist but refuse to run)
  for candidate in $(command -v python3.10) /usr/bin/python3.10 ~/.pyenv/versions/3.10.*/bin/python3.10; do
    if "$candidate" -c '' 2>/dev/null; then py=$candidate; break; fi
  done
fi
[ -n "$py" ] || { echo "no python3.10 found (pass its path)"; exit 2; }
"$py" -c 'import sys; assert sys.version_info[:2] == (3, 10), sys.version'
work=$(mktemp -d /tmp/req310.XXXXXX)
trap 'rm -rf "$work"' EXIT
grep -v '^torch' "$repo/requirements.txt" > "$work/req.txt"
quiet() { grep -v "is ignored" || true; }   # this machine's pip configuration names local indexes
SDIST_ONLY='^(empy|catkin-pkg|pyulog|colcon-common-extensions)=='   # pure Python; some of their dependencies ship sources only
echo "== CPython 3.10, $(uname -m), the whole set less torch"
"$py" -m pip install --dry-run --ignore-installed --quiet --report "$work/x86.json" -r "$work/req.txt" 2>&1 | quiet
"$py" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(" ", len(r["install"]), "distributions:", ", ".join(sorted(i["metadata"]["name"] + "==" + i["metadata"]["version"] for i in r["install"] if i["metadata"]["name"].lower() in ("numpy", "scipy", "matplotlib", "triton", "hypothesis"))))' "$work/x86.json"
echo "== CPython 3.10, aarch64 (manylinux2014), binary wheels only, less torch and the pure-Python sdists"
# pip evaluates environment markers for the machine it runs on, not for --platform: evaluate them for
# aarch64 here (pip's own copy of `packaging`), keeping the lines that apply there.
"$py" - "$work/req.txt" > "$work/req-aarch64-all.txt" <<'PY'
import sys
from pip._vendor.packaging.requirements import Requirement
target = {"python_version": "3.10", "platform_machine": "aarch64", "sys_platform": "linux", "platform_system": "Linux"}
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(target):
            print(f"{requirement.name}{requirement.specifier}")
PY
grep -Ev "$SDIST_ONLY" "$work/req-aarch64-all.txt" > "$work/req-aarch64.txt"
grep -q '^triton' "$work/req-aarch64.txt" && { echo "requirements.txt gives aarch64 triton"; exit 1; }
"$py" -m pip install --dry-run --ignore-installed --quiet --report "$work/aarch64.json" --target "$work/t" \
  --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 --implementation cp --python-version 3.10 --abi cp310 \
  --only-binary=:all: -r "$work/req-aarch64.txt" 2>&1 | quiet
"$py" -c 'import json, sys; r = json.load(open(sys.argv[1])); names = {i["metadata"]["name"].lower() for i in r["install"]}; assert "triton" not in names, "triton resolved for aarch64"; print(" ", len(names), "distributions, no triton:", ", ".join(sorted(i["metadata"]["name"] + "==" + i["metadata"]["version"] for i in r["install"] if i["metadata"]["name"].lower() in ("numpy", "scipy", "matplotlib", "hypothesis"))))' "$work/aarch64.json"
echo "requirements.txt resolves for CPython 3.10 (x86_64 and aarch64)"
