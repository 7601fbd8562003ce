"""The class-order check: a target whose outputs follow another class order than the data's labels (trained
with other class indices, or on image folders ordered otherwise) would be audited as a model that learned
nothing, and its attacks would say it leaks nothing.

The check learns the best matching of labels to outputs on the members (the assignment that maximises the
agreements of labels and answers) and tests it on the other records, which did not choose it: it refuses the
target when that matching, other than the identity, answers significantly more of those records right than
the labels as given (an exact one-sided sign test on the records where the two disagree, at :data:`ALPHA`)
and more of them answered right in at least two classes. A model that answers one output whatever the
record, that of a class rarer than another, is more often right with that output matched to the commoner
class too, but in that one class only: it is not refused.
Choosing on one part and testing on another keeps the test exact for a target whose classes are in order,
however many matchings the choice looked through.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import binomtest

from audit_core.core.errors import DataError

#: The chance that a target whose outputs follow its labels is refused (the sign test's level).
ALPHA = 1e-3
#: How many moved classes the refusal names.
NAMED = 3


def best_matching(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``output[c]``: the output that most agreements of ``labels`` with ``predicted`` assign to class ``c``
    (one output per class, each used once)."""
    agreements = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(agreements, (labels, predicted), 1)
    classes, outputs = linear_sum_assignment(agreements, maximize=True)
    return outputs[np.argsort(classes)]


def class_order_problem(
    chosen_on: tuple[np.ndarray, np.ndarray], tested_on: tuple[np.ndarray, np.ndarray], where: str
) -> str | None:
    """One sentence if the target's answers follow another class order than the labels, else None.
    ``chosen_on``: (labels, logits) where the matching is chosen (the members); ``tested_on``: where it is
    tested (records that did not choose it); ``where``: those records, for the sentence."""
    labels, logits = chosen_on
    n_classes = logits.shape[1]
    output = best_matching(labels, logits.argmax(axis=1), n_classes)
    if (output == np.arange(n_classes)).all():
        return None
    labels, logits = tested_on
    predicted = logits.argmax(axis=1)
    as_labelled, as_matched = predicted == labels, predicted == output[labels]
    gained, lost = int((as_matched & ~as_labelled).sum()), int((as_labelled & ~as_matched).sum())
    if not gained or binomtest(gained, gained + lost, 0.5, alternative="greater").pvalue >= ALPHA:
        return None
    better = np.bincount(labels[as_matched], minlength=n_classes) > np.bincount(
        labels[as_labelled], minlength=n_classes
    )
    if better.sum() < 2:  # one class answered better: a model that answers one output, not another order
        return None
    moved = [c for c in np.unique(labels) if output[c] != c][:NAMED]
    examples = ", ".join(f"class {c} answered as output {output[c]}" for c in moved)
    return (
        f"The target's outputs follow another class order than the data's labels: on {len(labels)} {where} "
        f"it is right on {as_labelled.mean():.0%} as labelled but on {as_matched.mean():.0%} with its "
        f"outputs matched to the classes on the members ({examples}); list the class names in the order "
        "of the model's outputs (data.classes), or give labels in that order."
    )


def check_class_order(
    chosen_on: tuple[np.ndarray, np.ndarray], tested_on: tuple[np.ndarray, np.ndarray], where: str
) -> None:
    """Raise :class:`DataError` with :func:`class_order_problem`'s sentence, if it has one."""
    problem = class_order_problem(chosen_on, tested_on, where)
    if problem:
        raise DataError(problem)
