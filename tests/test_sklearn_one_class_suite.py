"""scikit-learn's own tests of SGDOneClassSVM (sklearn/linear_model/tests/test_sgd.py), run
against fastdescent's class.

The module's source is executed here with ``linear_model.SGDOneClassSVM`` meaning
fastdescent's class (its sparse twin subclasses it, as there), and every test function that
exercises the one-class SVM is collected from it. Expected failures are the documented
differences: on sparse input scikit-learn shrinks the intercept's steps by 0.01, fastdescent
trains a sparse X as its dense twin; and tests of private internals.
"""

from __future__ import annotations

import importlib.util
import inspect
import types

import pytest
import sklearn.linear_model

import fastdescent

_spec = importlib.util.find_spec("sklearn.linear_model.tests.test_sgd")
if _spec is None or _spec.origin is None:
    pytest.skip("scikit-learn's test modules are not installed", allow_module_level=True)
with open(_spec.origin) as f:
    _SOURCE = f.read()
_IMPORT = "from sklearn import datasets, linear_model, metrics"
assert _IMPORT in _SOURCE, "scikit-learn's test module changed its imports"


class _LinearModel(types.ModuleType):
    """sklearn.linear_model, with fastdescent's SGDOneClassSVM."""

    def __getattr__(self, name):
        if name == "SGDOneClassSVM":
            return fastdescent.SGDOneClassSVM
        return getattr(sklearn.linear_model, name)


_suite = types.ModuleType("sklearn_test_sgd_one_class")
_suite.__dict__["linear_model_for_tests"] = _LinearModel("linear_model")
exec(  # noqa: S102 - scikit-learn's test module, with one name rebound
    compile(
        _SOURCE.replace(
            _IMPORT, "from sklearn import datasets, metrics\nlinear_model = linear_model_for_tests"
        ),
        _spec.origin,
        "exec",
    ),
    _suite.__dict__,
)

# Differences by design, each expected to fail (strictly: a pass would mean the difference is
# gone). By test id:
EXPECTED_FAILURES = {
    # Private internals: the training buffers (_standard_coef, ...) are kept without averaging,
    # and each call commits new arrays (the fitted state changes only when training succeeds),
    # so coef_ is not the same object after partial_fit.
    "test_plain_has_no_average_attr[SGDOneClassSVM]": "private buffers",
    "test_plain_has_no_average_attr[SparseSGDOneClassSVM]": "private buffers",
    "test_partial_fit_oneclass[SGDOneClassSVM]": "coef_ is a new array after partial_fit",
    "test_partial_fit_oneclass[SparseSGDOneClassSVM]": "coef_ is a new array after partial_fit",
    # 40,000 shuffled epochs end within 1.3e-6 of liblinear's offset for scikit-learn's row
    # order at random_state=42; other orders end up to 5e-6 away, in scikit-learn too (seeds
    # 0 and 2: 4.9e-6 and 4.6e-6). fastdescent shuffles with its own generator.
    "test_sgd_oneclass_vs_linear_oneclass_offsets_match[0.1]": "another row order",
    "test_sgd_oneclass_vs_linear_oneclass_offsets_match[0.9]": "another row order",
}


@pytest.fixture(autouse=True)
def _expected_failures(request):
    reason = EXPECTED_FAILURES.get(request.node.name)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def _one_class(fn):
    return "OneClass" in inspect.getsource(fn) or "oneclass" in fn.__name__ or "ocsvm" in fn.__name__


@pytest.fixture
def global_random_seed():
    return 42


for _name, _fn in list(vars(_suite).items()):
    if _name.startswith("test_") and callable(_fn) and _one_class(_fn):
        globals()[_name] = _fn
