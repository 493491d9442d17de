"""The random-convolution settings that ``randconv_study.py`` screens.

``BASELINE`` is the feature map's configuration before the study (Coates & Ng's
quadrants, alpha 0.25, ZCA epsilon 0.1); each entry of ``SCREEN`` changes some of it.
Kept apart from the study's runner so that other bench programs (e.g.
``randconv_jpeg_effect.py``) name the same settings.
"""

#: Today's defaults of ``kernelfit cifar10 --features randconv``.
BASELINE = {"pooling": "grid", "whitening_epsilon": 0.1, "alpha": 0.25,
            "n_standardize_images": 2000, "standardize": True, "filter_kind": "patches"}

#: One choice varied at a time, as (name, changed parameters).
SCREEN = [
    ("baseline", {}),
    ("pooling=overlap3", {"pooling": "overlap3"}),
    ("pooling=overlap2", {"pooling": "overlap2"}),
    ("zca_eps=1e-2", {"whitening_epsilon": 1e-2}),
    ("zca_eps=1e-3", {"whitening_epsilon": 1e-3}),
    ("zca_eps=1e-5", {"whitening_epsilon": 1e-5}),
    ("alpha=0.1", {"alpha": 0.1}),
    ("alpha=0.5", {"alpha": 0.5}),
    ("alpha=1", {"alpha": 1.0}),
    ("standardize=all", {"n_standardize_images": None}),
    ("standardize=off", {"standardize": False}),
    ("filters=gaussian", {"filter_kind": "gaussian"}),
    ("overlap3+alpha=0.5", {"pooling": "overlap3", "alpha": 0.5}),
    ("overlap3+alpha=1", {"pooling": "overlap3", "alpha": 1.0}),
    # Past the edges of the first grid, where its trends pointed.
    ("zca_eps=1", {"whitening_epsilon": 1.0}),
    ("overlap3+alpha=2", {"pooling": "overlap3", "alpha": 2.0}),
    ("overlap3+alpha=1+zca_eps=1", {"pooling": "overlap3", "alpha": 1.0,
                                    "whitening_epsilon": 1.0}),
    # Contrast normalization weakened or off, as in the group's later random-feature code
    # (raw pixels). CIFAR-10 patches have a mean variance of about 1,500 (squared pixel
    # values): with contrast epsilon 1e3 only high-contrast patches are scaled down; with
    # 1e6 none are (patches only centred). The ZCA epsilon shrinks with the whitened
    # patches' variance, about 0.5 and 1.5e-3 of the default's, so the whitening keeps
    # its strength; alpha 1 still thresholds unit-variance whitened responses.
    ("overlap3+alpha=1+contrast=1e3", {"pooling": "overlap3", "alpha": 1.0,
                                       "contrast_epsilon": 1e3, "whitening_epsilon": 0.5}),
    ("overlap3+alpha=1+contrast=off", {"pooling": "overlap3", "alpha": 1.0,
                                       "contrast_epsilon": 1e6, "whitening_epsilon": 1.5e-3}),
    ("overlap3+alpha=1+contrast=off+zca_eps/10", {"pooling": "overlap3", "alpha": 1.0,
                                                  "contrast_epsilon": 1e6,
                                                  "whitening_epsilon": 1.5e-4}),
]

#: The parameter each screened choice changes (for the combined setting).
FACTORS = ("pooling", "whitening_epsilon", "alpha", "standardize", "filter_kind")
