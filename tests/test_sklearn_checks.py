"""scikit-learn's own estimator test suite, run on the estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastdescent import SGDClassifier, SGDOneClassSVM, SGDRegressor

# The same exceptions scikit-learn declares for its own SGD estimators
# (sklearn/utils/_test_common/instance_generator.py, the one-class SVM's too): per-sample SGD visits a row with weight 2
# once, not twice, so weighting is not equivalent to repeating rows.
SGD_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples."
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "sample_weight is not equivalent to removing/repeating samples."
    ),
}


def expected_failures(estimator):
    return SGD_XFAIL


@parametrize_with_checks(
    [SGDClassifier(max_iter=5), SGDRegressor(max_iter=5), SGDOneClassSVM(max_iter=5)],
    expected_failed_checks=expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
