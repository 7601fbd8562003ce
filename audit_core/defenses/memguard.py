"""MemGuard (Jia et al., CCS 2019; notes, section 5): adversarial-example noise that fools the defender's
own membership classifier while keeping the label.

1. ``fit``: the defender trains a membership classifier ``g`` on the sorted log-probabilities of a model
   trained like the target, on data it trained on (members) and data it did not (non-members).
2. Per query, batched: Adam steps on additive logit noise ``e`` minimise
   ``|g(z + e)| + label_weight * relu(max_wrong - correct) + distortion_weight * ||softmax(z + e) - p||_1``
   for at most ``max_iter`` steps (fewer once every row is within 0.05 of ``g = 0`` or progress stalls);
   each row keeps its best label-preserving noise (``g`` closest to 0: membership probability 1/2).
3. Release: the noisy output is released with probability ``min(1, distortion_budget / ||q - p||_1)`` and
   the clean one otherwise, so the expected L1 distortion per answer is at most ``distortion_budget``.
"""

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Self

import numpy as np
import torch
from torch import nn

from audit_core.core.adam import Adam
from audit_core.core.torch_rng import seeded_global_rng
from audit_core.defenses.base import DefenderData, Defense, parameter, register_defense

_HIDDEN = 32  # membership classifier: sorted log-probabilities -> 32 ReLU units -> membership logit
_EPOCHS = 100  # full-batch Adam epochs to train it (more overfits the shadow data)
_LEARNING_RATE = 3e-2
_TARGET_GAP = 0.05  # |g| below this (membership probability 0.5 +- 0.0125) counts as reached
#: Batches whose perturbation is remembered, for every MemGuard with the same fitted state: repeated queries
#: (the averaging attacker), and the same outputs under the tuner's and the audit's copy of one setting.
_CACHED_BATCHES = 64
_PATIENCE = 20  # the search also ends after this many steps in which no unfinished row improved by 1e-3

_perturbations: OrderedDict[tuple[bytes, bytes], np.ndarray] = OrderedDict()
_perturbations_lock = threading.Lock()


def _sorted_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Label-agnostic features: log-softmax sorted in descending order."""
    return torch.sort(torch.log_softmax(logits, dim=1), dim=1, descending=True).values


@register_defense
@dataclass(eq=False)
class MemGuard(Defense):
    """MemGuard: label-preserving noise that fools the defender's own membership classifier.

    With an iteration budget and an expected-distortion budget, vectorised over the batch.
    """

    distortion_budget: float = parameter(1.0, "Expected L1 distortion per answer.", ge=0, le=2)
    max_iter: int = parameter(300, "Gradient steps per batch of queries.", ge=0, le=100_000)
    step_size: float = parameter(0.1, "Adam step size on the logit noise.", gt=0)
    label_weight: float = parameter(10.0, "Penalty weight for changing the label.", ge=0)
    distortion_weight: float = parameter(0.1, "Penalty weight for L1 distortion.", ge=0)

    name = "memguard"
    preserves_label = True
    searches_per_answer = True
    requires = frozenset({"shadow"})
    GRID = tuple({"distortion_budget": b} for b in (0.1, 0.3, 1.0, 2.0))
    RELEASE_ONLY = frozenset({"distortion_budget"})  # steps 1 and 2 do not read it: one search for a grid

    def fit(self, data: DefenderData, rng: np.random.Generator) -> Self:
        logits = torch.from_numpy(np.vstack([data.member_logits, data.non_member_logits]).astype(np.float64))
        is_member = torch.cat(
            [torch.ones(len(data.member_logits)), torch.zeros(len(data.non_member_logits))]
        ).double()
        features = _sorted_log_probs(logits)
        self.feature_mean_ = features.mean(dim=0)
        self.feature_scale_ = features.std(dim=0) + 1e-6
        with seeded_global_rng(int(rng.integers(2**31))):
            classifier = nn.Sequential(
                nn.Linear(logits.shape[1], _HIDDEN), nn.ReLU(), nn.Linear(_HIDDEN, 1)
            ).double()
        optimizer = Adam(classifier.parameters(), lr=_LEARNING_RATE)
        inputs = (features - self.feature_mean_) / self.feature_scale_
        with torch.enable_grad():
            for _ in range(_EPOCHS):
                optimizer.zero_grad()
                predicted = classifier(inputs).squeeze(1)
                nn.functional.binary_cross_entropy_with_logits(predicted, is_member).backward()
                optimizer.step()
        self.classifier_ = classifier.requires_grad_(False).eval()
        searched = (self.max_iter, self.step_size, self.label_weight, self.distortion_weight)
        state = [self.feature_mean_, self.feature_scale_, *classifier.state_dict().values()]
        self.fitted_digest_ = hashlib.sha256(
            repr(searched).encode() + b"".join(t.numpy().tobytes() for t in state)
        ).digest()  # what step 2 depends on besides the query (the distortion budget is step 3's)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "classifier_"):
            raise RuntimeError("MemGuard needs fit() with the defender's member/non-member outputs first.")

    def membership_logit(self, logits: torch.Tensor) -> torch.Tensor:
        """The defender's classifier output ``g`` (0 means membership probability 1/2)."""
        return self.classifier_((_sorted_log_probs(logits) - self.feature_mean_) / self.feature_scale_)[:, 0]

    def perturb(self, logits: np.ndarray) -> np.ndarray:
        """Step 2: the best label-preserving logit noise per row, within the iteration budget."""
        self._check_fitted()
        clean = torch.from_numpy(np.asarray(logits, dtype=np.float64))
        label = clean.argmax(dim=1, keepdim=True)
        clean_probs = torch.softmax(clean, dim=1)
        is_label = torch.zeros_like(clean, dtype=torch.bool).scatter_(1, label, True)
        noise = torch.zeros_like(clean, requires_grad=True)
        best = torch.zeros_like(clean)
        best_gap = torch.full((len(clean),), float("inf"), dtype=clean.dtype)
        optimizer = Adam([noise], lr=self.step_size)
        stalled = 0
        with torch.enable_grad():
            for _ in range(self.max_iter + 1):
                noisy = clean + noise
                gap = self.membership_logit(noisy).abs()
                correct = noisy.gather(1, label)[:, 0]
                wrong = noisy.masked_fill(is_label, -torch.inf).max(dim=1).values
                with torch.no_grad():
                    better = (wrong < correct) & (gap < best_gap)
                    progress = better & (best_gap >= _TARGET_GAP) & (gap < best_gap - 1e-3)
                    best[better] = noise[better]
                    best_gap[better] = gap[better]
                stalled = 0 if bool(progress.any()) else stalled + 1
                if bool((best_gap < _TARGET_GAP).all()) or stalled >= _PATIENCE:
                    break
                distortion = (torch.softmax(noisy, dim=1) - clean_probs).abs().sum(dim=1)
                label_change = torch.relu(wrong - correct)
                loss = gap + self.label_weight * label_change + self.distortion_weight * distortion
                optimizer.zero_grad()
                loss.sum().backward()
                optimizer.step()
        return best.numpy()

    def _perturbed(self, logits: np.ndarray) -> np.ndarray:
        """:meth:`perturb`, remembered for the last batches: step 2 is a deterministic function of the fitted
        state and the query, so a repeated query (an averaging attacker) redraws only the release coin of
        step 3, and an identically fitted MemGuard reuses it."""
        self._check_fitted()
        key = (self.fitted_digest_, hashlib.sha256(logits.tobytes() + str(logits.shape).encode()).digest())
        with _perturbations_lock:
            if key in _perturbations:
                _perturbations.move_to_end(key)
                return _perturbations[key]
        perturbation = self.perturb(logits)
        with _perturbations_lock:
            _perturbations[key] = perturbation
            while len(_perturbations) > _CACHED_BATCHES:
                _perturbations.popitem(last=False)
        return perturbation

    def _release_coins(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Step 3's uniform draws, one per answer."""
        return rng.random(count)

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._answer(*self._outputs(logits), rng)

    def summed_answers(self, logits: np.ndarray, rng: np.random.Generator, repeats: int) -> np.ndarray:
        """The sum of ``repeats`` answers, each as :meth:`apply` gives it: the clean and the noisy output are
        computed once, and each answer draws its release coins (step 3)."""
        outputs = self._outputs(logits)
        return sum(self._answer(*outputs, rng) for _ in range(repeats))

    def _outputs(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The clean output, the noisy one (step 2) and their L1 distance, per query."""
        logits = np.ascontiguousarray(logits, dtype=np.float64)
        clean = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
        noisy = torch.softmax(torch.from_numpy(logits + self._perturbed(logits)), dim=1).numpy()
        return clean, noisy, np.abs(noisy - clean).sum(axis=1)

    def _answer(
        self, clean: np.ndarray, noisy: np.ndarray, distortion: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Step 3: the noisy output with probability ``min(1, distortion_budget / distortion)``."""
        keep_noise = self._release_coins(len(clean), rng) * distortion <= self.distortion_budget
        return np.where(keep_noise[:, None], noisy, clean)

    def observed_labels(self, logits: np.ndarray, rng: np.random.Generator, repeats: int) -> np.ndarray:
        """The clean labels: step 2 accepts only noise that keeps the label and step 3 releases the noisy or
        the clean output, so every answer, and a mean of answers, has the clean label. Step 2 is not run
        (a label-only attacker's queries cost no search); step 3's draws are made, so what is drawn from
        ``rng`` afterwards is what it would be."""
        logits = np.ascontiguousarray(logits, dtype=np.float64)
        for _ in range(repeats):
            self._release_coins(len(logits), rng)
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy().argmax(axis=1)
