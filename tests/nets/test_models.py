"""The paper's networks: exact parameter counts (Table 1), shapes, registry errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from kernelfit.nets.models import (  # noqa: E402
    MODEL_NAMES,
    PAPER_PARAMETER_COUNTS,
    build_model,
    count_parameters,
)

pytestmark = pytest.mark.nets

TABLE1 = {
    "mlp1x512": 1_209_866,
    "mlp3x512": 1_735_178,
    "alexnet": 1_387_786,
    "inception": 1_649_402,
    "inception_nobn": 1_649_402,
}


@pytest.mark.parametrize("name", sorted(TABLE1))
def test_parameter_counts_match_table1(name):
    model = build_model(name)
    assert count_parameters(model) == TABLE1[name] == PAPER_PARAMETER_COUNTS[name]


def test_inception_counts_agree_with_and_without_batchnorm():
    with_bn = build_model("inception", batchnorm=True)
    without = build_model("inception", batchnorm=False)
    assert count_parameters(with_bn) == count_parameters(without) == 1_649_402
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in without.modules())
    # Same parameter names and shapes: weights move between the two variants.
    shapes = {k: v.shape for k, v in with_bn.named_parameters()}
    assert shapes == {k: v.shape for k, v in without.named_parameters()}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_gives_logits(name):
    model = build_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, 28, 28))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


def test_mnist_mlp():
    model = build_model("mlp1x512", input_shape=(1, 28, 28))
    assert count_parameters(model) == 784 * 512 + 512 + 512 * 10 + 10
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_dropout_adds_no_parameters():
    for name in ("mlp3x512", "alexnet", "inception"):
        plain, dropped = build_model(name), build_model(name, dropout=0.5)
        assert count_parameters(plain) == count_parameters(dropped)
        assert any(isinstance(m, torch.nn.Dropout) for m in dropped.modules())


def test_registry_errors():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*mlp1x512"):
        build_model("resnet")
    with pytest.raises(TypeError, match="must be a string"):
        build_model(3)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        build_model("mlp1x512", dropout=1.0)
    with pytest.raises(ValueError, match="input_shape must be"):
        build_model("mlp1x512", input_shape=(28, 28))
    assert count_parameters(build_model("MLP-1x512")) == 1_209_866  # case and dash tolerant
