"""The embedded demo data: scikit-learn's handwritten digits, split into the four audit parts."""

import numpy as np
from sklearn.datasets import load_digits

from audit_core.data.base import AuditData, Split
from audit_core.errors import DataError

DEMO_DATASETS = ("digits",)


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
    """
    if dataset != "digits":
        raise DataError(f"Unknown demo data set {dataset!r}; expected one of {list(DEMO_DATASETS)}.")
    bunch = load_digits()
    features = (bunch.data / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    ids = np.array([f"{dataset}:{row}" for row in range(len(labels))])
    sizes = [n_members, n_non_members, n_population]
    if sum(sizes) >= len(labels):
        raise DataError(
            f"The demo split asks for {sum(sizes)} members, non-members and population rows, but "
            f"{dataset} has {len(labels)}; leave rows for the test set."
        )
    order = np.random.default_rng(split_seed).permutation(len(labels))
    bounds = np.cumsum(sizes)
    parts = np.split(order, bounds)
    full = Split(features, labels, ids)
    return AuditData(
        name=dataset,
        n_classes=int(labels.max()) + 1,
        members=full.subset(parts[0]),
        non_members=full.subset(parts[1]),
        population=full.subset(parts[2]),
        test=full.subset(parts[3]),
    )
