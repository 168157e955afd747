"""Benchmark of the GRU kernels: CPU paths always, the Triton kernels when a CUDA GPU is present.

    .venv/bin/python bench/kernels.py [--quick] [--threads N]
    (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS set the numpy BLAS threads)

CPU: numpy / torch paths vs torch.nn.GRU at the node's batch sizes (1, 10, 100, 1000 tracks), one
streaming step (GRUStepper.step over all tracks, index given) and a T=20 sequence, hidden 64 and 128.
GPU: sequence forward (Triton) vs torch.nn.GRU (cuDNN) vs an eager PyTorch step loop over
B in {1, 64, 1024, 8192}, T in {20, 100}, hidden {64, 128}; streaming step for N in {1, 1k, 100k}
with and without a CUDA graph. Prints tables of times and ratios.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch

from uav_traj_predictor.kernels import GRUStepper, GRUWeights, gru_sequence
from uav_traj_predictor.kernels import cpu as cpu_paths

INPUT = 3


def cpu_time(fn, budget_s=0.15, rounds=7) -> float:
    """Best over `rounds` of the mean time per call (seconds), each round ~budget_s / rounds.

    The minimum, not the median: on a shared machine interference only ever adds time."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(budget_s / rounds / once))
    means = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        means.append((time.perf_counter() - t0) / reps)
    return min(means)


def make_gru(hidden, layers, device="cpu"):
    torch.manual_seed(0)
    gru = torch.nn.GRU(INPUT, hidden, layers, batch_first=True).to(device).eval()
    return gru, GRUWeights.from_module(gru)


def fmt_us(s: float) -> str:
    return f"{s * 1e6:9.1f}"


def print_table(title, head, rows):
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print(" | ".join(str(h).rjust(w) for h, w in zip(head, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(x).rjust(w) for x, w in zip(row, widths)))


# ------------------------------------------------------------------------------------------ CPU
def bench_cpu(tracks, hiddens, layers, seq_len, budget):
    rows_step, rows_seq = [], []
    for hidden in hiddens:
        gru, w = make_gru(hidden, layers)
        for n in tracks:
            rng = np.random.default_rng(0)
            x_np = rng.normal(size=(n, INPUT)).astype(np.float32)
            x_t = torch.from_numpy(x_np)
            idx = np.arange(n)
            times = {}
            for backend in ("numpy", "torch", "cpu"):
                stepper = GRUStepper(w, capacity=n, backend=backend)
                x_in = x_t if backend == "torch" else x_np
                times[backend] = cpu_time(lambda: stepper.step(x_in, idx), budget)
            h = torch.zeros(layers, n, hidden)
            with torch.no_grad():
                times["nn.GRU"] = cpu_time(lambda: gru(x_t[:, None], h), budget)
            best = min(("numpy", "torch"), key=times.get)
            rows_step.append((hidden, n, *(fmt_us(times[k]) for k in ("numpy", "torch", "cpu", "nn.GRU")),
                              f"{times['nn.GRU'] / times['cpu']:.2f}", best))

            xs_t = torch.randn(n, seq_len, INPUT)
            xs_np = xs_t.numpy()
            seq = {"numpy": cpu_time(lambda: cpu_paths.gru_sequence_numpy(xs_np, w), budget),
                   "torch": cpu_time(lambda: cpu_paths.gru_sequence_torch(xs_t, w), budget),
                   "loop": cpu_time(lambda: cpu_paths.gru_sequence_torch_loop(xs_t, w), budget),
                   "cpu": cpu_time(lambda: gru_sequence(xs_np, w, backend="cpu"), budget)}
            best = min(("numpy", "torch"), key=seq.get)
            rows_seq.append((hidden, n, *(fmt_us(seq[k]) for k in ("numpy", "torch", "loop", "cpu")),
                             best))
    print_table(f"CPU streaming step (GRUStepper.step over all tracks, index given; {layers} layer(s), "
                f"input {INPUT}, torch threads {torch.get_num_threads()}). torch = torch.gru_cell per layer, "
                "cpu = the dispatcher's choice per call",
                ("hidden", "tracks", "numpy us", "torch us", "cpu us", "nn.GRU T=1 us", "nn.GRU/cpu",
                 "fastest"), rows_step)
    print_table(f"CPU sequence forward T={seq_len} ({layers} layer(s)). torch = torch.nn.GRU, "
                "loop = eager torch.gru_cell step loop, cpu = gru_sequence(backend='cpu')",
                ("hidden", "tracks", "numpy us", "torch us", "loop us", "cpu us", "fastest"), rows_seq)


# ------------------------------------------------------------------------------------------ GPU
def gpu_time(fn, reps=20) -> float:
    """Median seconds per call, CUDA events."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def bench_gpu_sequence(batches, seq_lens, hiddens, layers, dtypes):
    rows = []
    for hidden in hiddens:
        gru, w = make_gru(hidden, layers, "cuda")
        for dtype in dtypes:
            gru_d = copy.deepcopy(gru).to(dtype)
            for b in batches:
                for t in seq_lens:
                    x = torch.randn(b, t, INPUT, device="cuda")
                    x_d = x.to(dtype)
                    try:
                        t_cudnn = gpu_time(lambda: gru_d(x_d))
                    except RuntimeError as err:  # e.g. no cuDNN RNN for this dtype
                        print(f"cuDNN {dtype}: {err}")
                        t_cudnn = float("nan")
                    t_loop = gpu_time(lambda: cpu_paths.gru_sequence_torch_loop(x, w), reps=5)
                    t_triton = gpu_time(lambda: gru_sequence(x, w, backend="triton", dtype=dtype))
                    rows.append((hidden, str(dtype).replace("torch.", ""), b, t, fmt_us(t_triton),
                                 fmt_us(t_cudnn), fmt_us(t_loop), f"{t_cudnn / t_triton:.2f}",
                                 f"{t_loop / t_triton:.1f}"))
    print_table(f"GPU sequence forward ({layers} layer(s); cuDNN fp32 uses TF32 as torch's default)",
                ("hidden", "dtype", "B", "T", "triton us", "cuDNN us", "torch loop us", "cuDNN/triton",
                 "loop/triton"), rows)


def bench_gpu_step(tracks, hiddens, layers, dtypes):
    from uav_traj_predictor.kernels.triton_step import gru_step_triton, step_workspace
    rows = []
    for hidden in hiddens:
        _, w = make_gru(hidden, layers, "cuda")
        for dtype in dtypes:
            for n in tracks:
                stepper = GRUStepper(w, capacity=n, backend="triton", device="cuda", dtype=dtype)
                x = torch.randn(n, INPUT, device="cuda")
                idx = torch.randperm(n, device="cuda")
                out = torch.empty(n, hidden, device="cuda")
                ws = step_workspace(layers, n, hidden, "cuda")

                def launch():
                    gru_step_triton(x, stepper.state, w, index=idx, out=out, dtype=dtype, allow_tf32=True,
                                    workspace=ws)
                t_plain = gpu_time(launch, reps=50)
                launch()
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    launch()
                t_graph = gpu_time(graph.replay, reps=50)
                torch_stepper = GRUStepper(w, capacity=n, backend="torch", device="cuda")
                t_torch = gpu_time(lambda: torch_stepper.step(x, idx, out=out), reps=20)  # gru_cell, eager
                rows.append((hidden, str(dtype).replace("torch.", ""), n, fmt_us(t_plain), fmt_us(t_graph),
                             fmt_us(t_torch), f"{t_torch / t_graph:.1f}"))
    print_table(f"GPU streaming step ({layers} layer(s), index given)",
                ("hidden", "dtype", "tracks", "triton us", "triton+graph us", "torch eager us",
                 "torch/graph"), rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="smaller sweep, shorter timing")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for the CPU part")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    budget = 0.05 if args.quick else 0.2
    bench_cpu((1, 10, 100, 1000), (64, 128), args.layers, 20, budget)
    if not torch.cuda.is_available():
        print("\nGPU part skipped: no CUDA device (torch.cuda.is_available() is False).")
        return
    dtypes = (torch.float32, torch.float16, torch.bfloat16)
    bench_gpu_sequence((1, 64, 1024, 8192), (20, 100), (64, 128), args.layers, dtypes)
    bench_gpu_step((1, 1000, 100_000), (64, 128), args.layers, dtypes)


if __name__ == "__main__":
    with torch.no_grad():
        main()
