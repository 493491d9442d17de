"""Training: memorizing random labels, convergence time, checkpoints, preprocessing, errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kernelfit.nets.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402
from kernelfit.nets.preprocessing import crop_batch, standardize_per_image  # noqa: E402
from kernelfit.nets.train import TrainConfig, train_model  # noqa: E402
from kernelfit.progress import ProgressEvent  # noqa: E402

pytestmark = pytest.mark.nets


def _noise_images(n, shape=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8), rng.integers(0, 10, size=n)


def test_mlp_memorizes_256_random_labels():
    X, y = _noise_images(256)
    events: list[ProgressEvent] = []
    config = TrainConfig(model="mlp1x512", epochs=60, batch_size=32, device="cpu",
                         stop_at_target=True)
    result = train_model(X, y, X[:64], y[:64], config, progress=events.append)
    assert result.convergence_step is not None
    assert result.final_train_accuracy == 1.0
    assert len(result.step_loss) == result.convergence_step
    assert result.steps_per_epoch == 8
    assert result.config["learning_rate"] == 0.01  # the paper's rate for MLPs
    assert events[0].phase == "train" and events[-1].finished
    assert len(result.epoch_test_accuracy) == len(result.epoch_seconds)


def test_learning_rate_decays_per_epoch_or_per_steps():
    X, y = _noise_images(64)
    per_epoch = train_model(X, y, config=TrainConfig(epochs=3, batch_size=32, device="cpu"))
    assert per_epoch.epoch_learning_rate == pytest.approx([0.01, 0.0095, 0.009025])
    per_step = train_model(X, y, config=TrainConfig(epochs=3, batch_size=32, device="cpu",
                                                    lr_decay_steps=3))
    # lr at the start of epochs 0, 1, 2 = steps 0, 2, 4 -> decays 0, 0, 1
    assert per_step.epoch_learning_rate == pytest.approx([0.01, 0.01, 0.0095])
    assert per_epoch.eval_epochs == [1, 2, 3]


def test_evaluation_every_few_epochs_and_at_the_end():
    X, y = _noise_images(64)
    result = train_model(X, y, X[:16], y[:16],
                         TrainConfig(epochs=5, batch_size=32, device="cpu", eval_every=2))
    assert result.eval_epochs == [2, 4, 5]
    assert len(result.epoch_train_accuracy) == len(result.epoch_test_accuracy) == 3
    assert len(result.epoch_seconds) == 5


def test_resume_from_checkpoint_continues_the_same_run(tmp_path):
    X, y = _noise_images(96, shape=(30, 30), seed=1)
    base = TrainConfig(model="mlp1x512", epochs=4, batch_size=32, device="cpu",
                       random_crop=True, weight_decay=5e-4)
    straight = train_model(X, y, X[:32], y[:32], base)
    path = tmp_path / "run.pt"
    first = train_model(X, y, X[:32], y[:32], TrainConfig(**{**base.__dict__, "epochs": 2}),
                        checkpoint_path=path)
    assert len(first.epoch_seconds) == 2 and path.is_file()
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind
    resumed = train_model(X, y, X[:32], y[:32], base, checkpoint_path=path)
    assert len(resumed.step_loss) == 4 * 3
    np.testing.assert_allclose(resumed.step_loss, straight.step_loss, rtol=1e-5, atol=1e-6)
    assert resumed.epoch_test_accuracy == straight.epoch_test_accuracy


def test_resume_refuses_another_run(tmp_path):
    X, y = _noise_images(64)
    path = tmp_path / "run.pt"
    train_model(X, y, config=TrainConfig(epochs=1, device="cpu"), checkpoint_path=path)
    with pytest.raises(ValueError, match=r"belongs to another run.*learning_rate"):
        train_model(X, y, config=TrainConfig(epochs=2, device="cpu", learning_rate=0.5),
                    checkpoint_path=path)
    with pytest.raises(ValueError, match=r"belongs to another run.*data"):
        train_model(X, (y + 1) % 10, config=TrainConfig(epochs=2, device="cpu"),
                    checkpoint_path=path)
    fresh = train_model(X, y, config=TrainConfig(epochs=1, device="cpu", learning_rate=0.5),
                        checkpoint_path=path, resume=False)
    assert len(fresh.epoch_seconds) == 1


def test_checkpoint_write_is_atomic(tmp_path):
    path = tmp_path / "state.pt"
    save_checkpoint({"a": torch.ones(3), "n": 1}, path)

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        save_checkpoint({"a": Unsaveable()}, path)
    assert load_checkpoint(path)["n"] == 1  # the old checkpoint survived
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_crops_and_per_image_standardization():
    batch = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    centre = crop_batch(batch, 28)
    torch.testing.assert_close(centre, batch[:, :, 2:30, 2:30])
    offsets = np.array([[0, 4], [3, 1]])
    random = crop_batch(batch, 28, offsets)
    torch.testing.assert_close(random[0], batch[0, :, 0:28, 4:32])
    torch.testing.assert_close(random[1], batch[1, :, 3:31, 1:29])
    out = standardize_per_image(torch.randint(0, 256, (4, 3, 28, 28), dtype=torch.uint8))
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(dim=(1, 2, 3), unbiased=False), torch.ones(4))
    flat = standardize_per_image(torch.full((1, 1, 4, 4), 7, dtype=torch.uint8))
    assert torch.isfinite(flat).all()


def test_bad_training_input():
    X, y = _noise_images(32)
    with pytest.raises(ValueError, match="same number of rows"):
        train_model(X, y[:-1], config=TrainConfig(device="cpu"))
    with pytest.raises(ValueError, match=r"must lie in \[0, 10\)"):
        train_model(X, y + 10, config=TrainConfig(device="cpu"))
    with pytest.raises(ValueError, match="crop_size 28 exceeds"):
        train_model(X[:, :20, :20], y, config=TrainConfig(device="cpu"))
    with pytest.raises(ValueError, match="unknown model"):
        train_model(X, y, config=TrainConfig(model="vgg", device="cpu"))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train_model(X, y, config=TrainConfig(epochs=0, device="cpu"))
    with pytest.raises(ValueError, match="test images have shape"):
        train_model(X, y, X[:, :, :27], y, config=TrainConfig(device="cpu"))
    with pytest.raises(ValueError, match="device must be"):
        train_model(X, y, config=TrainConfig(device="tpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_forced_cuda_without_gpu_is_an_error():
    X, y = _noise_images(32)
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        train_model(X, y, config=TrainConfig(device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda():
    X, y = _noise_images(64)
    result = train_model(X, y, config=TrainConfig(epochs=1, device="cuda"))
    assert result.device.startswith("cuda")


def test_recomputed_batchnorm_statistics_are_those_of_the_training_images():
    from torch import nn

    from kernelfit.nets.train import recompute_batchnorm_statistics

    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)
    model = nn.Sequential(conv, nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 26 * 26, 10))
    images = torch.rand(40, 3, 30, 30) * 255
    before = {k: v.clone() for k, v in model.state_dict().items()}
    copy = recompute_batchnorm_statistics(model, images, crop_size=28, batch_size=40)
    with torch.no_grad():
        z = conv(standardize_per_image(crop_batch(images, 28)))  # what the layer normalizes
    norm = copy[1]
    torch.testing.assert_close(norm.running_mean, z.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(norm.running_var, z.var(dim=(0, 2, 3), unbiased=True))
    assert not copy.training and copy is not model
    for key, value in model.state_dict().items():  # the trained network is untouched
        assert torch.equal(value, before[key]), key
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 28 * 28, 10))
    assert recompute_batchnorm_statistics(mlp, images, crop_size=28) is mlp
    with pytest.raises(ValueError, match="batch_size must be a positive integer; found 0"):
        recompute_batchnorm_statistics(model, images, crop_size=28, batch_size=0)
    with pytest.raises(ValueError, match=r"H, W >= crop_size = 32; found \(40, 3, 30, 30\)"):
        recompute_batchnorm_statistics(model, images, crop_size=32)


def test_evaluation_of_a_batchnorm_network_uses_recomputed_statistics():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 64)
    runs = {flag: train_model(X, y, X[:32], y[:32], TrainConfig(
        model="inception", epochs=1, batch_size=32, device="cpu", recompute_bn_stats=flag))
        for flag in (True, False)}
    # Same training (the flag only changes evaluation), so the same losses ...
    assert runs[True].step_loss == runs[False].step_loss
    # ... and the evaluation reproduces from the recomputed statistics.
    from kernelfit.nets.preprocessing import images_to_tensor
    from kernelfit.nets.train import evaluate_accuracy, recompute_batchnorm_statistics

    images, labels = images_to_tensor(X, "cpu"), torch.as_tensor(y)
    model = runs[True].model
    expected = evaluate_accuracy(recompute_batchnorm_statistics(model, images, 28), images,
                                 labels, 28)
    assert runs[True].epoch_train_accuracy[-1] == expected
