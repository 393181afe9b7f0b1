"""Fuzz target for the C++ kernels, through the bindings (atheris / libFuzzer).

Each input decodes into one call of ``_core.train_dense``, ``_core.train_csr``, an optimizer
kernel, a clipping kernel or a loss kernel, with shapes, dtypes, layouts, values (NaN, inf,
1e30 included), CSR structure and configuration taken from the bytes, so malformed arguments
are common. A ValueError or TypeError is the expected answer to a bad argument; anything else
(another exception, a crash, an AddressSanitizer report) is a finding.

Coverage feedback comes from this file's decoder (its functions are instrumented): inputs that
reach new argument combinations are kept. The C++ side is checked by running against the
AddressSanitizer / UBSan build. Run (see .ci/fuzz, which loads the sanitized build):
    python fuzz/fuzz_train.py fuzz/corpus -max_total_time=30
"""

import sys

import atheris
import numpy as np

from fastdescent import _core, optim

OPTIMIZERS = [
    lambda: optim.SGD(lr=0.1, momentum=0.9, nesterov=True), optim.Adagrad,
    lambda: optim.RMSprop(centered=True, momentum=0.5), lambda: optim.Adam(amsgrad=True),
    optim.AdamW, optim.NAdam, optim.Adamax, optim.LAMB, optim.Adafactor, optim.Lion,
]

LOSSES = list(_core.LossKind.__members__.values())
PENALTIES = list(_core.PenaltyKind.__members__.values())
SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e30, -1e30, 1e-30, np.nan, np.inf, -np.inf, 3.5, -2.25]


@atheris.instrument_func
def values(fdp, n, dtype):
    """n numbers, mostly ordinary, sometimes special (NaN, inf, huge, tiny)."""
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        if fdp.ConsumeIntInRange(0, 7) == 0:
            out[i] = SPECIAL[fdp.ConsumeIntInRange(0, len(SPECIAL) - 1)]
        else:
            out[i] = fdp.ConsumeIntInRange(-1000, 1000) / 100.0
    with np.errstate(over="ignore"):
        return out.astype(dtype)


@atheris.instrument_func
def layout(fdp, a):
    """The array as is, or strided, reversed, read-only, Fortran-ordered or of another dtype."""
    choice = fdp.ConsumeIntInRange(0, 9)
    if choice == 1 and a.ndim >= 1 and a.size:
        return np.repeat(a, 2, axis=-1)[..., ::2]
    if choice == 2 and a.ndim >= 1:
        return a[::-1]
    if choice == 3:
        a = a.copy()
        a.flags.writeable = False
        return a
    if choice == 4 and a.ndim == 2:
        return np.asfortranarray(a)
    if choice == 5:
        return a.astype(np.float32 if a.dtype == np.float64 else np.float64)
    if choice == 6 and a.size:
        return a.reshape(-1)[:-1] if a.ndim == 1 else a[:, :-1]
    return a


@atheris.instrument_func
def config(fdp):
    cfg = _core.TrainConfig()
    cfg.loss = LOSSES[fdp.ConsumeIntInRange(0, len(LOSSES) - 1)]
    cfg.penalty = PENALTIES[fdp.ConsumeIntInRange(0, len(PENALTIES) - 1)]
    cfg.alpha = [0.0, 1e-4, 0.1, 10.0, -1.0, np.nan][fdp.ConsumeIntInRange(0, 5)]
    cfg.l1_ratio = [0.0, 0.15, 1.0, 2.0][fdp.ConsumeIntInRange(0, 3)]
    cfg.loss_param = [0.0, 0.1, 1e30][fdp.ConsumeIntInRange(0, 2)]
    cfg.fit_intercept = fdp.ConsumeBool()
    cfg.max_iter = fdp.ConsumeIntInRange(0, 3)
    cfg.tol = [-np.inf, 1e-3, 0.0][fdp.ConsumeIntInRange(0, 2)]
    cfg.n_iter_no_change = fdp.ConsumeIntInRange(0, 3)
    cfg.shuffle = fdp.ConsumeBool()
    cfg.seed = fdp.ConsumeIntInRange(0, 2**32)
    cfg.batch_size = fdp.ConsumeIntInRange(-1, 5)
    cfg.average = fdp.ConsumeIntInRange(0, 3)
    cfg.clip_value = [0.0, 0.5, 1e30][fdp.ConsumeIntInRange(0, 2)]
    cfg.clip_norm = [0.0, 1.0][fdp.ConsumeIntInRange(0, 1)]
    cfg.n_threads = fdp.ConsumeIntInRange(1, 3)
    cfg.early_stopping = fdp.ConsumeIntInRange(0, 4) == 0
    return cfg


@atheris.instrument_func
def fuzz_train(fdp):
    dtype = np.float32 if fdp.ConsumeBool() else np.float64
    n, d = fdp.ConsumeIntInRange(0, 12), fdp.ConsumeIntInRange(0, 6)
    cfg = config(fdp)
    K = fdp.ConsumeIntInRange(0, 4)
    multinomial = cfg.loss == _core.LossKind.multinomial
    y = (np.arange(n) % max(K, 1)).astype(dtype) if multinomial and fdp.ConsumeBool() else values(fdp, n, dtype)
    coef = layout(fdp, np.zeros((K, d), dtype))
    intercept = layout(fdp, np.zeros(K, dtype))
    kwargs = {}
    if fdp.ConsumeBool():
        kwargs["sample_weight"] = layout(fdp, np.abs(values(fdp, n, dtype)))
    if fdp.ConsumeIntInRange(0, 3) == 0:
        kwargs["validation_mask"] = (values(fdp, n, np.float64) > 0).astype(np.uint8)
    if cfg.average > 0 or fdp.ConsumeIntInRange(0, 3) == 0:
        kwargs["average_coef"] = layout(fdp, np.zeros((K, d), dtype))
        kwargs["average_intercept"] = np.zeros(K, dtype)
    if fdp.ConsumeIntInRange(0, 3) == 0:
        kwargs["class_weight"] = np.abs(values(fdp, fdp.ConsumeIntInRange(0, 4), np.float64))
    if fdp.ConsumeIntInRange(0, 2) == 0:
        spec = OPTIMIZERS[fdp.ConsumeIntInRange(0, len(OPTIMIZERS) - 1)]().to_spec()
        if fdp.ConsumeBool():  # an out-of-range hyperparameter the spec's validation must catch
            field = ["beta1", "beta2", "eps", "alpha", "momentum", "decay_rate"][fdp.ConsumeIntInRange(0, 5)]
            setattr(spec, field, [1.5, -1.0, np.nan, 0.0][fdp.ConsumeIntInRange(0, 3)])
        kwargs["optimizer"] = spec
    kwargs["t0"] = [1.0, 5.0, 0.0, np.nan][fdp.ConsumeIntInRange(0, 3)]
    if fdp.ConsumeBool():
        X = layout(fdp, values(fdp, n * d, dtype).reshape(n, d))
        _core.train_dense(X, layout(fdp, y), coef, intercept, cfg, **kwargs)
    else:
        index = np.int32 if fdp.ConsumeBool() else np.int64
        nnz = fdp.ConsumeIntInRange(0, 3 * max(n, 1))
        indices = np.array([fdp.ConsumeIntInRange(-1, d) for _ in range(nnz)], dtype=index)
        if fdp.ConsumeBool():  # a well-formed row structure, or an arbitrary one
            indptr = np.sort(np.array([fdp.ConsumeIntInRange(0, nnz) for _ in range(max(n - 1, 0))] + [0, nnz], dtype=index))
        else:
            indptr = np.array([fdp.ConsumeIntInRange(-2, nnz + 2) for _ in range(n + 1)], dtype=index)
        data = values(fdp, nnz, dtype)
        _core.train_csr(layout(fdp, data), layout(fdp, indices), layout(fdp, indptr),
                        fdp.ConsumeIntInRange(-1, d + 1), layout(fdp, y), coef, intercept, cfg, **kwargs)


@atheris.instrument_func
def fuzz_kernels(fdp):
    dtype = np.float32 if fdp.ConsumeBool() else np.float64
    size = fdp.ConsumeIntInRange(0, 16)
    p = layout(fdp, values(fdp, size, dtype))
    g = layout(fdp, values(fdp, size, dtype))
    state = [layout(fdp, np.zeros(size, dtype)) for _ in range(3)]
    step = fdp.ConsumeIntInRange(0, 3)
    lr = [0.1, 0.0, 1e30, np.nan][fdp.ConsumeIntInRange(0, 3)]
    which = fdp.ConsumeIntInRange(0, 7)
    if which == 0:
        _core.sgd_step(p, g, state[0] if fdp.ConsumeBool() else None, step, lr, momentum=0.9)
    elif which == 1:
        _core.adam_step(p, g, state[0], state[1], state[2] if fdp.ConsumeBool() else None, step, lr,
                        amsgrad=fdp.ConsumeBool())
    elif which == 2:
        _core.adagrad_step(p, g, state[0], step, lr)
    elif which == 3:
        _core.rmsprop_step(p, g, state[0], state[1], state[2], lr, centered=fdp.ConsumeBool(),
                           momentum=0.5)
    elif which == 4:
        _core.lion_step(p, g, state[0], lr)
    elif which == 5:
        strict = fdp.ConsumeBool()
        try:
            _core.clip_grad_norm([p, g], [1.0, 0.0, np.inf][fdp.ConsumeIntInRange(0, 2)],
                                 error_if_nonfinite=strict)
        except RuntimeError as e:  # torch's documented answer to a non-finite norm
            if not (strict and "non-finite" in str(e)):
                raise
    elif which == 6:
        _core.clip_grad_value(p if fdp.ConsumeBool() else [p, g], [0.5, -1.0][fdp.ConsumeIntInRange(0, 1)])
    else:
        kind = LOSSES[fdp.ConsumeIntInRange(0, len(LOSSES) - 1)]
        if kind == _core.LossKind.multinomial:
            k = fdp.ConsumeIntInRange(0, 4)
            scores = layout(fdp, values(fdp, size * k, dtype).reshape(size, k))
            labels = np.array([fdp.ConsumeIntInRange(-1, k) for _ in range(size)], dtype=np.int64)
            _core.softmax_cross_entropy(scores, labels)
        else:
            _core.loss_value_and_deriv(kind, p, g, [0.1, np.nan][fdp.ConsumeIntInRange(0, 1)],
                                       fdp.ConsumeBool())


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    try:
        if fdp.ConsumeIntInRange(0, 2):
            fuzz_train(fdp)
        else:
            fuzz_kernels(fdp)
    except (ValueError, TypeError):
        pass  # a clear refusal of a bad argument is the expected outcome


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
