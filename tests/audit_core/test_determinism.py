"""Same config and seed, same models: from any thread, on any thread count, with every trainer.

Before torch's global generator was used under one lock, a model built on one thread while another thread
seeded the generator to initialise its own took some of the other's numbers: with the loop trainer on a
one-thread pool (as Prefect's task runner trains groups), 15 of 16 reference models of 512-unit layers
came out bit-identical in two fresh runs. More torch threads also changed the loop trainer's weights.
"""

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import torch

from audit_core.audit import models as audit_models
from audit_core.audit.inputs import load_audit_data
from audit_core.config import AuditConfig
from audit_core.training import build_model
from audit_core.training.references import train_group

CONFIG = AuditConfig(
    cache_dir=None,
    reference_models=8,
    trainer="loop",
    recipe={"epochs": 3, "hidden_sizes": [256, 256]},
    data={"n_members": 60, "n_non_members": 60, "n_population": 120},
)


def _reference_weights(config, run_groups=None):
    data = load_audit_data(config)
    options = {} if run_groups is None else {"run_groups": run_groups}
    references, _, _ = audit_models.train_references(config, data, {"data": "d", "target": "t"}, **options)
    return [model.fingerprint() for model in references]


def _on_a_thread_pool(groups_for):
    """Each group on a one-thread pool while this thread loads the results, as Prefect's task runner does."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        futures = {pool.submit(train_group, group): group for group in groups_for(1)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def test_models_trained_on_a_pool_thread_equal_those_trained_here_while_other_threads_build_models():
    here = _reference_weights(CONFIG)
    stop = threading.Event()

    def build_models_until_stopped():
        while not stop.is_set():
            build_model(CONFIG.recipe, 64, 10, seed=1)

    builders = [threading.Thread(target=build_models_until_stopped) for _ in range(2)]
    for builder in builders:
        builder.start()
    try:
        pooled = _reference_weights(CONFIG, _on_a_thread_pool)
    finally:
        stop.set()
        for builder in builders:
            builder.join()
    assert pooled == here
    assert len(set(here)) == len(here), "each model has its own seed and training set"


def test_the_loop_trainer_gives_the_same_weights_on_any_thread_count():
    one = _reference_weights(CONFIG)
    torch.set_num_threads(2)
    try:
        two = _reference_weights(CONFIG)
    finally:
        torch.set_num_threads(1)
    assert two == one
