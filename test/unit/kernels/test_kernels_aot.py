"""Ahead-of-time compile of the Triton kernels for H100 (sm_90) and Jetson Orin (sm_87), no GPU needed:
every configuration the launchers use for hidden <= 128 must fit in registers (no spills)."""
import pytest
import torch

from uav_traj_predictor.kernels import aot

pytestmark = pytest.mark.slow  # ~48 compiles, two processes


def test_no_register_spills_for_hidden_up_to_128(capsys):
    configs = aot.dispatcher_configs([32, 64, 128], [torch.float32, torch.bfloat16], list(aot.TARGETS))
    reports = aot.compile_reports(configs, workers=2)
    with capsys.disabled():
        print("\n" + aot.report_table(reports))
    assert len(reports) == len(configs)
    for r in reports:
        assert r.registers > 0, f"ptxas report not parsed for {r}"
        assert r.shared + r.static_smem <= 163 * 1024, f"over Orin's 163 KB of shared memory: {r}"
    spilling = [r for r in reports if r.spills]
    assert not spilling, "register spills:\n" + aot.report_table(spilling)
