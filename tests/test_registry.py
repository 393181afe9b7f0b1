"""The optimizer registry: every registered rule has its Python class, its estimator name, its
GPU kernel, and state arrays named alike in C++, in fastdescent.optim and on the GPU."""

import numpy as np
import pytest

import fastdescent as fd
from fastdescent import _core, optim
from fastdescent._base import OPTIMIZERS
from fastdescent.cuda import SUPPORTED_OPTIMIZERS

REGISTRY = {info["name"]: info for info in _core.optimizer_registry()}


def test_registry_lists_every_kind_once():
    assert list(REGISTRY) == list(_core.OptimizerKind.__members__)
    for name, info in REGISTRY.items():
        assert info["kind"] == getattr(_core.OptimizerKind, name)
        assert info["defaults"].kind == info["kind"]


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_kind_has_its_python_class_with_the_same_defaults(name):
    cls = optim.BY_KIND[name]
    opt = cls(lr=0.01)
    assert opt.to_spec() == REGISTRY[name]["defaults"]


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_kind_is_an_estimator_optimizer_and_has_a_gpu_kernel(name):
    assert name in OPTIMIZERS
    assert name in SUPPORTED_OPTIMIZERS


@pytest.mark.parametrize("name", list(REGISTRY))
def test_state_arrays_are_named_alike_in_cpp_and_python(name):
    # Hyperparameters that switch on every optional array of the rule.
    switch_on = {"sgd": dict(momentum=0.9), "rmsprop": dict(centered=True, momentum=0.5),
                 "adam": dict(amsgrad=True), "adamw": dict(amsgrad=True),
                 "adafactor": dict(momentum=0.5)}.get(name, {})
    opt = optim.BY_KIND[name](lr=0.01, **switch_on)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    coef, intercept = np.zeros((1, 3)), np.zeros(1)
    cfg = _core.TrainConfig()
    cfg.batch_size, cfg.max_iter, cfg.schedule = 5, 1, fd.schedules.Constant(0.01).to_core()
    res = _core.train_dense(X, y, coef, intercept, cfg, optimizer=opt.to_spec())
    cpp = {k for k in res.optimizer_state[0] if isinstance(res.optimizer_state[0][k], np.ndarray)}
    python = {k for k, v in opt._new_state(np.zeros(3)).items() if isinstance(v, np.ndarray)}
    assert cpp <= set(REGISTRY[name]["state"])
    if name != "adafactor":  # the Python class keeps v_row / v_col / v for every shape
        assert cpp == python
    assert res.optimizer_state[0]["step"] == 4
