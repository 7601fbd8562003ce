"""The built-in demo data sets from scikit-learn, split at random into the four audit parts."""

from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification

from audit_core.core.errors import DataError
from audit_core.data.base import PARTS, AuditData, Split


def _digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    return bunch.data / 16.0, bunch.target


def _standardised(loader: Callable) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        bunch = loader()
        return (bunch.data - bunch.data.mean(axis=0)) / bunch.data.std(axis=0), bunch.target

    return load


def _synthetic() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``make_classification``, fixed: hard enough (about 0.8 held-out accuracy for an MLP
    that memorises its training set) to leak membership like the DynaNoise paper's CIFAR-10 target."""
    features, labels = make_classification(
        n_samples=6000,
        n_features=20,
        n_informative=10,
        n_redundant=5,
        n_classes=10,
        n_clusters_per_class=1,
        class_sep=0.7,
        flip_y=0.02,
        random_state=0,
    )
    return (features - features.mean(axis=0)) / features.std(axis=0), labels


# name -> features scaled to a small range, integer labels
DEMO_DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "digits": _digits,  # 1797 8x8 handwritten digits (64 pixels in [0, 1]), 10 classes
    "breast_cancer": _standardised(load_breast_cancer),  # 569 records, 30 features, 2 classes
    "wine": _standardised(load_wine),  # 178 records, 13 features, 3 classes
    "synthetic": _synthetic,  # 6000 records, 20 features, 10 classes
}


def load_demo_data(
    dataset: str = "digits",
    *,
    n_members: int = 150,
    n_non_members: int = 150,
    n_population: int = 600,
    split_seed: int = 0,
) -> AuditData:
    """Split a scikit-learn data set at random into members, non-members, population and test (the rest).

    The split is fully determined by ``split_seed``; record ids are ``"<dataset>:<row>"``.

    >>> load_demo_data("wine", n_members=40, n_non_members=40, n_population=60).test.features.shape
    (38, 13)
    """
    if dataset not in DEMO_DATASETS:
        raise DataError(f"Unknown demo data set {dataset!r}; expected one of {sorted(DEMO_DATASETS)}.")
    features, labels = DEMO_DATASETS[dataset]()
    sizes = [n_members, n_non_members, n_population]
    if sum(sizes) >= len(labels):
        raise DataError(
            f"The demo split asks for {sum(sizes)} members, non-members and population rows, but "
            f"{dataset} has {len(labels)}; set smaller data.n_members, data.n_non_members and "
            "data.n_population to leave rows for the test set."
        )
    ids = np.array([f"{dataset}:{row}" for row in range(len(labels))])
    full = Split(features.astype(np.float32), labels.astype(np.int64), ids)
    order = np.random.default_rng(split_seed).permutation(len(labels))
    parts = dict(zip(PARTS, np.split(order, np.cumsum(sizes)), strict=True))
    return AuditData.from_parts(
        dataset,
        {part: full.subset(index) for part, index in parts.items()},
        n_classes=int(labels.max()) + 1,
        sources={part: f"scikit-learn {dataset}" for part in parts},
    )
