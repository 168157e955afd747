"""Ahead-of-time compile of the Triton GRU kernels for real GPU targets, without a GPU.

`triton.compile` lowers each kernel, in the configuration the launchers would use (launch_config),
to PTX for a `GPUTarget`; the ptxas bundled with Triton (`-v`) then reports registers, spills and
static shared memory, and Triton's metadata gives the dynamic shared memory it allocates.

    python -m uav_traj_predictor.kernels.aot [--hidden 32 64 128] [--dtype float32 bfloat16]
    (run it from outside the repository root, where `uav_traj_predictor/` would shadow the install)
"""
from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability
from triton.compiler import ASTSource

from .triton_sequence import gru_sequence_layer_kernel
from .triton_step import gru_step_layer_kernel
from .triton_common import FUSED_INPUT_MAX, MIN_DOT, compute_dtype, dot_precision, launch_config, pow2

TARGETS = {"H100": GPUTarget("cuda", 90, 32), "Orin": GPUTarget("cuda", 87, 32)}
TRITON_TYPES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


@dataclass(frozen=True)
class KernelReport:
    target: str
    kernel: str
    input_size: int
    hidden: int
    dtype: str        # weights dtype (">fp16": the tiles the kernel multiplies, see compute_dtype)
    block: int
    num_warps: int
    resident: bool
    registers: int
    spill_stores: int
    spill_loads: int
    static_smem: int
    shared: int  # bytes of shared memory Triton allocates per program (dynamic)

    @property
    def spills(self) -> int:
        return self.spill_stores + self.spill_loads


def _signature(kind: str, wtype: str, in_size: int, hidden: int, hidden_pad: int, cfg,
               precision: str):
    """(signature, constexprs) for one kernel configuration, as the JIT launcher would bind them."""
    if kind == "sequence":
        sig = {"x_ptr": "*fp32", "h0_ptr": "*fp32", "out_ptr": "*fp32", "hn_ptr": "*fp32",
               "wi_ptr": f"*{wtype}", "wh_ptr": f"*{wtype}", "b_ptr": "*fp32",
               "B": "i32", "T": "i32", "stride_xb": "i32", "stride_xt": "i32",
               "stride_ob": "i32", "stride_ot": "i32", "w_step": "i32"}
        consts = {"IN": in_size, "H": hidden, "HP": hidden_pad, "BLOCK_B": cfg.block,
                  "RESIDENT": cfg.resident, "HAS_H0": True, "GATES_IN": in_size == hidden or in_size > FUSED_INPUT_MAX,
                  "PRECISION": precision}
    else:
        sig = {"x_ptr": "*fp32", "state_ptr": "*fp32", "idx_ptr": "*i64", "out_ptr": "*fp32",
               "wi_ptr": f"*{wtype}", "wh_ptr": f"*{wtype}", "b_ptr": "*fp32",
               "n": "i32", "stride_x": "i32", "stride_out": "i32", "w_step": "i32"}
        consts = {"IN": in_size, "H": hidden, "HP": hidden_pad, "BLOCK_N": cfg.block,
                  "RESIDENT": cfg.resident, "HAS_INDEX": True,
                  "GATES_IN": in_size == hidden or in_size > FUSED_INPUT_MAX,
                  "HAS_OUT": True, "PRECISION": precision}
    for name in consts:
        sig[name] = "constexpr"
    return sig, consts


def _ptxas_report(ptx: str, capability: int) -> dict:
    arch = sm_arch_from_capability(capability)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        proc = subprocess.run([get_ptxas(capability).path, "-v", f"--gpu-name={arch}", str(src),
                               "-o", str(Path(tmp) / "k.cubin")], capture_output=True, text=True, check=True)
    log = proc.stderr + proc.stdout

    def grab(pattern):
        m = re.search(pattern, log)
        return int(m.group(1)) if m else 0
    return {"registers": grab(r"Used (\d+) registers"),
            "spill_stores": grab(r"(\d+) bytes spill stores"),
            "spill_loads": grab(r"(\d+) bytes spill loads"),
            "static_smem": grab(r"(\d+) bytes smem")}


def compile_report(target_name: str, kind: str, input_size: int, hidden: int,
                   dtype: torch.dtype = torch.float32, precision: str | None = None) -> KernelReport:
    """Compile one kernel configuration for a target and read its resource use."""
    target = TARGETS[target_name]
    hidden_pad = pow2(hidden, MIN_DOT)
    weights_dtype, dtype = dtype, compute_dtype(dtype, hidden_pad, allow_tf32=precision in (None, "tf32"))
    dtype_name = (TRITON_TYPES[dtype] if dtype == weights_dtype
                  else f"{TRITON_TYPES[weights_dtype]}>{TRITON_TYPES[dtype]}")
    cfg = launch_config(kind, hidden_pad, dtype)
    fn = gru_sequence_layer_kernel if kind == "sequence" else gru_step_layer_kernel
    precision = precision or dot_precision(dtype, allow_tf32=True)  # the dispatcher default
    sig, consts = _signature(kind, TRITON_TYPES[dtype], input_size, hidden, hidden_pad, cfg, precision)
    attrs = {(i,): [["tt.divisibility", 16]] for i, t in enumerate(sig.values()) if t.startswith("*")}
    src = ASTSource(fn=fn, signature=sig, constexprs=consts, attrs=attrs)
    options = {"num_warps": cfg.num_warps, "num_stages": 1, "enable_fp_fusion": True}
    compiled = triton.compile(src, target=target, options=options)
    ptx = compiled.asm["ptx"]
    return KernelReport(target_name, kind, input_size, hidden, dtype_name, cfg.block, cfg.num_warps,
                        cfg.resident, shared=int(compiled.metadata.shared),
                        **_ptxas_report(ptx, target.arch))


def report_table(reports: list[KernelReport]) -> str:
    head = ("target", "kernel", "in", "H", "dtype", "block", "warps", "resident", "regs", "spill B",
            "smem B")
    rows = [(r.target, r.kernel, r.input_size, r.hidden, r.dtype, r.block, r.num_warps, r.resident,
             r.registers, r.spills, r.shared + r.static_smem) for r in reports]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = [" | ".join(str(x).rjust(w) for x, w in zip(row, widths)) for row in (head, *rows)]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def dispatcher_configs(hiddens, dtypes, targets, input_size: int = 3):
    """(target, kind, input, hidden, dtype) of every kernel the launchers would compile: layer 0
    (input `input_size`) and layers > 0 (input = hidden), both kernels."""
    return [(target, kind, in_size, hidden, dtype) for target in targets for dtype in dtypes
            for hidden in hiddens for kind in ("sequence", "step") for in_size in (input_size, hidden)]


def _compile_one(args) -> KernelReport:
    return compile_report(*args)


def compile_reports(configs, workers: int = 1) -> list[KernelReport]:
    """compile_report over configs, in `workers` processes (compiles are CPU-bound)."""
    if workers <= 1:
        return [compile_report(*c) for c in configs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_compile_one, configs))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--input", type=int, default=3, help="input size of layer 0")
    parser.add_argument("--dtype", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    configs = dispatcher_configs(args.hidden, [getattr(torch, d) for d in args.dtype], args.targets, args.input)
    print(report_table(compile_reports(configs, args.workers)))


if __name__ == "__main__":
    main()
