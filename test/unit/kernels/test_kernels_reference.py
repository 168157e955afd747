"""Reference GRU and the GRUWeights container vs torch.nn.GRU."""
import pytest
import torch

from uav_traj_predictor.kernels import GRUWeights, gru_reference


def _gru(i, h, layers, seed=0, bias=True):
    torch.manual_seed(seed)
    return torch.nn.GRU(i, h, layers, batch_first=True, bias=bias)


@pytest.mark.parametrize("i,h,layers,b,t", [(3, 32, 1, 1, 7), (8, 64, 2, 5, 3), (3, 16, 3, 3, 9),
                                            (6, 128, 1, 2, 4)])
def test_reference_matches_torch_gru(i, h, layers, b, t):
    gru = _gru(i, h, layers)
    w = GRUWeights.from_module(gru)
    x, h0 = torch.randn(b, t, i), torch.randn(layers, b, h)
    with torch.no_grad():
        expect_out, expect_h = gru(x, h0)
    out, h_n = gru_reference(x, w, h0)
    torch.testing.assert_close(out, expect_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_n, expect_h, atol=1e-5, rtol=0)
    out0, _ = gru_reference(x, w)  # h0 = 0 default
    torch.testing.assert_close(out0, gru(x)[0].detach(), atol=1e-5, rtol=0)


def test_weights_load_unchanged_from_state_dict_with_prefix():
    model = torch.nn.Module()
    model.gru = _gru(3, 32, 2)
    w = GRUWeights.from_state_dict(model.state_dict(), prefix="gru.")
    assert (w.input_size, w.hidden_size, w.num_layers) == (3, 32, 2)
    assert torch.equal(w.layers[1].w_hh, model.gru.weight_hh_l1)
    assert torch.equal(w.layers[0].summed_rz_bias(), (model.gru.bias_ih_l0 + model.gru.bias_hh_l0)[:64])


def test_weights_without_bias_and_errors():
    gru = _gru(3, 16, 1, bias=False)
    w = GRUWeights.from_module(gru)
    assert torch.count_nonzero(w.layers[0].b_ih) == 0
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(gru_reference(x, w)[0], gru(x)[0].detach(), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="bidirectional"):
        GRUWeights.from_module(torch.nn.GRU(3, 16, bidirectional=True))
    with pytest.raises(KeyError, match="weight_ih_l0"):
        GRUWeights.from_state_dict({"foo": torch.zeros(1)})
    sd = _gru(3, 16, 1).state_dict()
    sd["weight_hh_l0"] = torch.zeros(48, 8)
    with pytest.raises(ValueError, match="has shape"):
        GRUWeights.from_state_dict(sd)
