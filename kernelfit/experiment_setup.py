"""What an experiment's configuration asks for, built and checked before any data is loaded.

:func:`check_config` refuses a bad ``reg``, size, seed or budget, and what the
streamed path does not do, from the configuration alone; for streamed features it
also refuses a filter count, pooling or patch that the memory budget cannot take
(before the whitening is fitted). :func:`configured_feature_map` builds the feature
map a configuration names, by the rule the result records repeat
(:func:`kernelfit.features.feature_map_records.configured_feature_map_record`).
"""

from __future__ import annotations

import numpy as np

from .backend import resolve_device
from .memory import parse_budget
from .validation import check_count

__all__ = ["IMAGE_SETS", "STREAMED_FEATURES", "check_config", "configured_feature_map",
           "configured_streamed_feature_map"]

#: Feature maps whose features are streamed into the Gram, never materialized.
STREAMED_FEATURES = ("randconv",)

#: Full sizes and image shapes of the data sets, for the checks made before loading.
IMAGE_SETS = {"mnist": (60000, 10000, (28, 28, 1)), "fashion-mnist": (60000, 10000, (28, 28, 1)),
               "cifar10": (50000, 10000, (32, 32, 3))}


def configured_feature_map(config):
    """The configured feature map (unfitted): the data set's defaults, then
    ``config.feature_params`` (the rule ``configured_feature_map_record`` repeats)."""
    from .features import make_feature_map

    return make_feature_map(config.features, dataset=config.dataset, seed=config.seed,
                            **config.feature_params)


def configured_streamed_feature_map(config):
    """The configured streamed feature map (unfitted), on the run's device by default."""
    fmap = configured_feature_map(config)
    if "device" not in config.feature_params:
        fmap.set_params(device=config.device)
    return fmap


def _check_streamed_memory(config) -> None:
    """Refuse a filter count, pooling or patch the memory budget or the images cannot
    take, from the sizes alone (before loading data or fitting the whitening)."""
    from .features.conv_gram import GRAM_TILE
    from .features.random_conv import filter_memory
    from .streamed import plan_streamed_memory

    if config.dataset not in IMAGE_SETS:
        return  # refused by the loader
    full_train, full_test, shape = IMAGE_SETS[config.dataset]
    n, m = config.n_train or full_train, config.n_test or full_test
    fmap = configured_streamed_feature_map(config)
    tile = min(int(config.tile_size or GRAM_TILE), n)
    fitted, per_filter = filter_memory(fmap, shape, n + m + tile)
    backend = resolve_device(config.device)
    plan_streamed_memory(n, m, tile, np.float64 if config.dtype == "float64" else np.float32,
                         backend.memory_budget(config.memory_budget),
                         filters=(int(fmap.n_filters), fitted, per_filter),
                         keep_kernel="auto" if backend.is_host else "memory")


def _check_sizes(config) -> None:
    """Refuse sizes below 1, a filter count without the feature map that has filters, a
    negative seed and a memory budget that is not a positive amount."""
    sizes = [("n_train", config.n_train), ("n_test", config.n_test),
             ("tile_size", config.tile_size)]
    if "n_filters" in config.feature_params:
        if config.features != "randconv":
            raise ValueError(f"n_filters (--filters) is the number of random-convolution "
                             f"filters and needs features='randconv' (--features randconv); "
                             f"found features={config.features!r}")
        sizes.append(("n_filters", config.feature_params["n_filters"]))
    for name, value in sizes:
        check_count(value, name)
    seed = config.seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0; found {seed!r}")
    if config.memory_budget is not None:
        parse_budget(config.memory_budget)  # refuses zero, negatives and typos


def check_config(config) -> None:
    """Refuse a bad ``reg`` or size, and what the streamed path does not do, before any
    work."""
    _check_sizes(config)
    streamed = config.features in STREAMED_FEATURES
    reg = config.reg
    if isinstance(reg, str):
        if reg != "auto":
            raise ValueError(f"reg must be a non-negative number or 'auto' (held-out choice on "
                             f"the training set); found {reg!r}")
        if not streamed:
            raise ValueError(f"reg='auto' (held-out choice) is supported for the streamed "
                             f"feature maps {STREAMED_FEATURES} only; features="
                             f"{config.features!r} needs a number")
    elif isinstance(reg, bool) or not isinstance(reg, (int, float, np.integer, np.floating)) \
            or not np.isfinite(reg) or reg < 0:
        raise ValueError(f"reg must be a non-negative number or 'auto' (held-out choice on the "
                         f"training set); found {reg!r}")
    if config.storage == "out-of-core" and (streamed or config.dask):
        what = f"features={config.features!r}" if streamed else f"dask={config.dask!r}"
        raise ValueError(f"storage='out-of-core' is for the local solver; {what} keeps its "
                         "tiles in memory")
    if config.checkpoint_dir is not None and not streamed:
        raise ValueError(f"checkpoint_dir (--checkpoint-dir) checkpoints the streamed Gram of "
                         f"the feature maps {STREAMED_FEATURES}; found features="
                         f"{config.features!r}")
    if not streamed:
        return
    from .streamed.solution import STREAMED_KERNELS

    if config.kernel not in STREAMED_KERNELS:
        raise ValueError(f"features={config.features!r} streams the feature Gram into a "
                         f"Gaussian or linear kernel; kernel must be one of {STREAMED_KERNELS}; "
                         f"found {config.kernel!r}")
    if config.dask:
        raise ValueError(f"features={config.features!r} runs on one machine; dask must be "
                         f"None; found {config.dask!r}")
    _check_streamed_memory(config)
