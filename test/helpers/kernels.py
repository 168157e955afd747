"""Seeded GRU cases for the kernel tests (CPU paths, the C path, Triton)."""


def gru_case(i, h, layers, b, t, seed=0):
    """A seeded torch.nn.GRU, its weights, inputs, h0 and its outputs:
    (GRUWeights, x (b, t, i), h0 (layers, b, h), out (b, t, h), h_n (layers, b, h))."""
    import torch

    from uav_traj_predictor.kernels import GRUWeights
    torch.manual_seed(seed)
    gru = torch.nn.GRU(i, h, layers, batch_first=True)
    x, h0 = torch.randn(b, t, i), torch.randn(layers, b, h)
    with torch.no_grad():
        out, h_n = gru(x, h0)
    return GRUWeights.from_module(gru), x, h0, out, h_n
