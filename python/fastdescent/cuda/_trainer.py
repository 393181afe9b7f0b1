"""The GPU training loop: the CPU trainer's algorithm (trainer.hpp, batched path) with the data,
the parameters and the optimizer state on the device.

Per batch the host launches: the fused loss-and-gradient kernel, the reduction that finishes
the gradient (mean, L2 term, clipping), and one element-wise update kernel per parameter array
(fused with the L1 step and averaging). The host computes only scalars: the optimizer's bias
corrections. Per epoch it reads back one small array (loss, penalty sums, validation
statistics) and hands it to the training engine's EpochPolicy, which gives the step sizes and
makes the epoch decisions as for every other backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _core
from . import SUPPORTED_OPTIMIZERS, _numba_cuda, as_device_array, is_device_array, simulated
from . import _kernels as kn


@dataclass
class DeviceData:
    """X on the device (row-major) and the training dtype."""

    X: object
    dtype: np.dtype


def to_device(X, dtype):
    """X as a C-contiguous device array of `dtype`, or of float16 for float32 training.

    A device array (``__cuda_array_interface__``) of that dtype is used without a copy; one of
    another dtype is converted on the device (a copy). A host array is copied to the device
    once, converted to `dtype` on the way. float16 X (host or device) for float32 training stays
    float16 on the device: the kernels widen each entry as they read it (half the bytes per
    pass). bfloat16, which Numba does not know, is converted to float32 on the host.
    """
    cuda = _numba_cuda()
    dtype = np.dtype(dtype)
    if is_device_array(X):
        Xd = as_device_array(X)
        if Xd.ndim != 2:
            raise ValueError(f"Expected a 2D array, got a {Xd.ndim}D device array instead.")
        if not Xd.is_c_contiguous():
            raise ValueError(
                "A device array X must be C-contiguous (row-major); make it so "
                "with cupy.ascontiguousarray."
            )
        if Xd.dtype == np.float16 and dtype == np.float32:
            return DeviceData(Xd, dtype)
        if Xd.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"A device array X must be float32 or float64 (or float16 for float32 "
                f"training), got {Xd.dtype}."
            )
        if Xd.dtype != dtype:
            out = cuda.device_array(Xd.shape, dtype=dtype)
            threads = (8, 8) if simulated() else (16, 16)
            blocks = (-(-Xd.shape[0] // threads[0]), -(-Xd.shape[1] // threads[1]))
            kn.cast_rows[blocks, threads](Xd, out)
            Xd = out
        return DeviceData(Xd, dtype)
    if X.dtype == np.float16 and dtype == np.float32:
        return DeviceData(cuda.to_device(np.ascontiguousarray(X)), dtype)
    return DeviceData(cuda.to_device(np.ascontiguousarray(X, dtype=dtype)), dtype)


def _launch_1d(n):
    threads = 8 if simulated() else 256
    return max(1, -(-n // threads)), threads


# The registry's names of a device slot's arrays s[0], s[1], s[2] (and Adafactor's momentum
# buffer), in the order of the C++ state, for exporting and loading the state.
_STATE_NAMES = {info["name"]: tuple(info["state"]) for info in _core.optimizer_registry()}


class DeviceOptimizer:
    """Optimizer state on the device, one slot per parameter array (coefficients, intercepts),
    each counting its own steps as the CPU optimizers do. `spec` None is plain SGD."""

    def __init__(self, spec, dtype):
        self.spec = spec
        self.dtype = dtype
        self.kind = "plain" if spec is None else spec.kind.name
        if self.kind not in ("plain",) + SUPPORTED_OPTIMIZERS:
            raise ValueError(
                f"optimizer {self.kind!r} is not supported with device='cuda'; "
                f"supported: {', '.join(SUPPORTED_OPTIMIZERS)}."
            )
        if spec is not None:
            spec.validate()
        self.cuda = _numba_cuda()
        self.slots = {}
        self.dummy = self.cuda.device_array(1, dtype=dtype)
        self.lamb_sums = self.cuda.device_array(3, dtype=np.float64)  # also Adafactor's

    def _zeros(self, n, value=0.0):
        return self.cuda.to_device(np.full(n, value, dtype=self.dtype))

    def _slot(self, slot, n, rows_hint=1):
        st = self.slots.get(slot)
        if st is None:
            st = self.slots[slot] = self._new_slot(n, rows_hint)
        st["step"] += 1
        return st

    def state(self):
        """The state as the CPU optimizers export it: per slot None or {"size", "step", the
        arrays by their CPU names (host copies), the numbers}."""
        names = _STATE_NAMES.get(self.kind, ())
        out = []
        for slot in range(max(self.slots, default=-1) + 1):
            st = self.slots.get(slot)
            if st is None:
                out.append(None)
                continue
            d = {"size": st["n"], "step": st["step"]}
            for name, arr in zip(names, st["s"] + [st.get("buf", self.dummy)]):
                if arr is not self.dummy:
                    d[name] = arr.copy_to_host()
            if self.kind == "nadam":
                d["mu_product"] = st["mu_product"]
            if self.kind == "adafactor":
                d["rows"] = st["rows"]
            out.append(d)
        return out

    def load_state(self, slots):
        """Continues from a state of :meth:`state` (or of the CPU optimizers)."""
        names = _STATE_NAMES.get(self.kind, ())
        for slot, d in enumerate(slots or ()):
            if d is None:
                continue
            st = self._new_slot(int(d["size"]), int(d.get("rows", 1)))
            st["step"] = int(d["step"])
            st["mu_product"] = float(d.get("mu_product", 1.0))
            arrays = st["s"]
            for i, name in enumerate(names):
                current = arrays[i] if i < 3 else st.get("buf", self.dummy)
                if current is self.dummy:
                    continue
                if name not in d:
                    raise ValueError(f"optimizer state of slot {slot}: missing {name!r}")
                value = np.ascontiguousarray(d[name], dtype=self.dtype).ravel()
                if value.size != current.size:
                    raise ValueError(
                        f"optimizer state of slot {slot}: {name!r} has "
                        f"{value.size} entries, expected {current.size}"
                    )
                if i < 3:
                    arrays[i] = self.cuda.to_device(value)
                else:
                    st["buf"] = self.cuda.to_device(value)
            self.slots[slot] = st

    def _new_slot(self, n, rows_hint):
        """A fresh state for a slot of n parameters (Adafactor: rows_hint x n / rows_hint)."""
        p = self.spec
        k = self.kind
        st = {"step": 0, "n": n, "mu_product": 1.0, "s": [self.dummy, self.dummy, self.dummy]}
        if k == "sgd" and p.momentum != 0:
            st["s"][0] = self._zeros(n)
        elif k == "adagrad":
            st["s"][0] = self._zeros(n, p.initial_accumulator_value)
        elif k == "rmsprop":
            st["s"][0] = self._zeros(n)
            if p.centered:
                st["s"][1] = self._zeros(n)
            if p.momentum > 0:
                st["s"][2] = self._zeros(n)
        elif k in ("adam", "adamw"):
            st["s"][0], st["s"][1] = self._zeros(n), self._zeros(n)
            if p.amsgrad:
                st["s"][2] = self._zeros(n)
        elif k in ("nadam", "adamax", "lamb"):
            st["s"][0], st["s"][1] = self._zeros(n), self._zeros(n)
        elif k == "lion":
            st["s"][0] = self._zeros(n)
        elif k == "adafactor":
            rows = st["rows"] = rows_hint
            cols = n // rows
            st["factored"] = bool(
                p.factored
                and rows >= 2
                and cols >= 2
                and min(rows, cols) >= p.min_dim_size_to_factor
            )
            if st["factored"]:
                st["s"][0], st["s"][1] = self._zeros(rows), self._zeros(cols)
            else:
                st["s"][2] = self._zeros(n)
            if p.momentum != 0:
                st["buf"] = self._zeros(n)
        return st

    def _rule(self, st, lr):
        """(rule, flags, c0..c8) for this step, scalars in float64 as the CPU rules compute."""
        p, k, t = self.spec, self.kind, float(st["step"])
        c = [0.0] * 9
        if k == "plain":
            c[0] = lr
            return kn.RULE_PLAIN, 0, c
        if k == "sgd":
            c[:4] = [lr, p.weight_decay, p.momentum, 1.0 - p.dampening]
            flags = (
                (1 if st["step"] <= 1 else 0)
                | (2 if p.momentum != 0 else 0)
                | (4 if p.nesterov else 0)
            )
            return kn.RULE_SGD, flags, c
        if k == "adagrad":
            c[:3] = [lr / (1.0 + (t - 1.0) * p.lr_decay), p.weight_decay, p.eps]
            return kn.RULE_ADAGRAD, 0, c
        if k == "rmsprop":
            c[:5] = [lr, p.alpha, p.eps, p.weight_decay, p.momentum]
            return kn.RULE_RMSPROP, (1 if p.centered else 0) | (2 if p.momentum > 0 else 0), c
        if k in ("adam", "adamw"):
            decoupled = k == "adamw"
            c[:7] = [
                lr / (1.0 - p.beta1**t),
                1.0 / math.sqrt(1.0 - p.beta2**t),
                1.0 - lr * p.weight_decay if decoupled else 1.0,
                0.0 if decoupled else p.weight_decay,
                p.beta1,
                p.beta2,
                p.eps,
            ]
            return kn.RULE_ADAM, 1 if p.amsgrad else 0, c
        if k == "nadam":
            mu = p.beta1 * (1.0 - 0.5 * 0.96 ** (t * p.momentum_decay))
            mu_next = p.beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1.0) * p.momentum_decay))
            st["mu_product"] *= mu
            prod = st["mu_product"]
            decoupled = p.decoupled_weight_decay
            c[:8] = [
                lr * (1.0 - mu) / (1.0 - prod),
                lr * mu_next / (1.0 - prod * mu_next),
                1.0 - p.beta2**t,
                1.0 - lr * p.weight_decay if decoupled else 1.0,
                0.0 if decoupled else p.weight_decay,
                p.beta1,
                p.beta2,
                p.eps,
            ]
            return kn.RULE_NADAM, 0, c
        if k == "adamax":
            c[:5] = [lr / (1.0 - p.beta1**t), p.weight_decay, p.beta1, p.beta2, p.eps]
            return kn.RULE_ADAMAX, 0, c
        c[:4] = [lr, p.beta1, p.beta2, p.weight_decay]  # lion
        return kn.RULE_LION, 0, c

    def step(self, slot, w, g, lr, stats, clip_norm, l1=0.0, avg=None, avg_mu=0.0, rows=1):
        """One update of the flat device array w from its gradient g (in place; Adafactor
        also clips g in place). `rows`: w is a rows x (n / rows) matrix (Adafactor factors
        large ones)."""
        n = w.size
        blocks, threads = _launch_1d(n)
        avg = self.dummy if avg is None else avg
        st = self._slot(slot, n, rows)
        if self.kind == "adafactor":
            self._adafactor(st, w, g, lr, stats, clip_norm, l1, avg, avg_mu)
            return
        if self.kind == "lamb":
            p, t = self.spec, float(st["step"])
            bc1, bc2 = 1.0 - p.beta1**t, 1.0 - p.beta2**t
            kn.zero[1, 2](self.lamb_sums)
            kn.lamb_moments[blocks, threads](
                w,
                g,
                st["s"][0],
                st["s"][1],
                stats,
                bc1,
                bc2,
                p.beta1,
                p.beta2,
                p.eps,
                p.weight_decay,
                clip_norm,
                self.lamb_sums,
            )
            kn.lamb_apply[blocks, threads](
                w,
                st["s"][0],
                st["s"][1],
                self.lamb_sums,
                lr,
                bc1,
                bc2,
                p.eps,
                p.weight_decay,
                l1,
                avg,
                avg_mu,
            )
            return
        rule, flags, c = self._rule(st, lr)
        s1, s2, s3 = st["s"]
        kn.update_params[blocks, threads](
            w, g, s1, s2, s3, avg, stats, rule, flags, *c, clip_norm, l1, avg_mu
        )

    def _adafactor(self, st, w, g, lr, stats, clip_norm, l1, avg, avg_mu):
        p, t = self.spec, float(st["step"])
        n = w.size
        blocks, threads = _launch_1d(n)
        if clip_norm > 0:
            kn.clip_by_norm_in_place[blocks, threads](g, stats, clip_norm)
        if p.relative_step:
            lr = min(1e-2, 1.0 / math.sqrt(t))
        beta = 1.0 - t ** (-p.decay_rate)
        v_row, v_col, v = st["s"]
        sums = self.lamb_sums
        kn.zero[1, 3](sums)
        if st["factored"]:
            kn.adafactor_rows[_launch_1d(v_row.size)](g, v_row, v_col.size, beta, p.eps, sums)
            kn.adafactor_cols[_launch_1d(v_col.size)](g, v_col, v_row.size, beta, p.eps)
        kn.adafactor_moments[blocks, threads](
            w, g, v, v_row, v_col, st["factored"], beta, p.eps, sums
        )
        kn.adafactor_apply[blocks, threads](
            w,
            g,
            v,
            v_row,
            v_col,
            st.get("buf", self.dummy),
            st["factored"],
            sums,
            lr,
            p.clipping_threshold,
            bool(p.multiply_by_parameter_scale),
            p.eps_scale,
            p.momentum,
            p.weight_decay,
            l1,
            avg,
            avg_mu,
        )

    def average_only(self, w, avg, avg_mu):
        """The running average of an array that is not trained (intercept not fitted)."""
        blocks, threads = _launch_1d(w.size)
        kn.update_params[blocks, threads](
            w,
            w,
            self.dummy,
            self.dummy,
            self.dummy,
            avg,
            self.lamb_sums,
            kn.RULE_NONE,
            0,
            *([0.0] * 9),
            0.0,
            0.0,
            avg_mu,
        )


def _gradient_launch(n_rows, d):
    """(blocks, threads per block, threads per row group) for the gradient kernel."""
    cuda = _numba_cuda()
    if simulated():
        group, threads = 4, 8  # the simulator runs a Python thread per GPU thread: keep few
        return max(1, min(4, -(-n_rows // 16))), threads, group
    group = 32 if d >= 32 else max(2, 1 << (max(int(d), 1) - 1).bit_length())
    threads = 128
    groups_per_block = threads // group
    sm = cuda.get_current_device().MULTIPROCESSOR_COUNT
    # Enough rows per group that the partial sums stay a small fraction of the work.
    blocks = max(1, min(-(-n_rows // (groups_per_block * 16)), 16 * sm))
    return blocks, threads, group


def train(
    data,
    y,
    coef,
    intercept,
    cfg,
    optimizer=None,
    optimizer_state=None,
    sample_weight=None,
    class_weight=None,
    validation_mask=None,
    average_coef=None,
    average_intercept=None,
    t0=1.0,
    epoch_callback=None,
):
    """Trains on the GPU; coef (K x d) and intercept (K) are NumPy arrays updated in place.

    Arguments as fastdescent._base.train, with `data` from :func:`to_device`. Returns the
    engine's TrainResult.
    """
    cuda = _numba_cuda()
    X = data.X
    T = data.dtype
    n, d = X.shape
    K = coef.shape[0]
    P = K * d
    multinomial = cfg.loss == _core.LossKind.multinomial
    if K > kn.MAX_OUTPUTS:
        raise ValueError(
            f"device='cuda' trains at most {kn.MAX_OUTPUTS} outputs (classes) at "
            f"once, got {K}; use device='cpu'."
        )
    if cfg.schedule.kind in (_core.ScheduleKind.pa1, _core.ScheduleKind.pa2):
        raise ValueError("learning_rate 'pa1'/'pa2' is a per-sample rule; it needs device='cpu'.")

    # Row weights (sample weight times class weight) and the train / validation split, on the
    # host: n scalars, copied to the device once.
    y = np.asarray(y)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    weight = sw.copy()
    if class_weight is not None and len(class_weight) > 0:
        cw = np.asarray(class_weight, dtype=np.float64)
        cls = y.astype(np.int64) if multinomial else (y > 0).astype(np.int64)
        weight *= cw[cls]
    mask = np.zeros(n, dtype=bool) if validation_mask is None else np.asarray(validation_mask) != 0
    train_rows = np.flatnonzero(~mask).astype(np.int64)
    val_rows = np.flatnonzero(mask).astype(np.int64)
    if train_rows.size == 0:
        raise ValueError("no training rows left after the validation split")
    train_weight = float(weight[train_rows].sum())
    if not train_weight > 0:
        raise ValueError("the training rows have a total sample weight of zero")
    if cfg.early_stopping and val_rows.size == 0:
        raise ValueError("early stopping needs at least one validation row")
    n_train = train_rows.size
    B = n_train if cfg.batch_size == 0 else min(int(cfg.batch_size), n_train)
    # A batch whose rows all weigh zero is skipped (no update, no step) as on the CPU; only
    # then does the host read each batch's weight back.
    check_batch_weight = B < n_train and bool(np.any(weight[train_rows] == 0))

    opt = DeviceOptimizer(optimizer, T)
    opt.load_state(optimizer_state)
    policy = _core.EpochPolicy(cfg, float(t0), epoch_callback)
    penalty = _core.Penalty(cfg)
    l2, l1_step = penalty.l2, penalty.l1

    y_d = cuda.to_device(np.ascontiguousarray(y, dtype=T))
    weight_d = cuda.to_device(weight.astype(T))
    sw_d = cuda.to_device(sw.astype(T))
    train_rows_d = cuda.to_device(train_rows)
    val_rows_d = cuda.to_device(val_rows)
    order_d = cuda.device_array(n_train, dtype=np.int64)
    coef_d = cuda.to_device(np.ascontiguousarray(coef, dtype=T))
    intercept_d = cuda.to_device(np.ascontiguousarray(intercept, dtype=T))
    average = int(cfg.average)
    avg_coef_d = avg_b_d = None
    if average > 0:
        avg_coef_d = cuda.to_device(np.ascontiguousarray(average_coef, dtype=T).reshape(-1))
        avg_b_d = cuda.to_device(np.ascontiguousarray(average_intercept, dtype=T))
    grad_d = cuda.device_array(P + K, dtype=T)
    stats_d = cuda.device_array(kn.N_STATS, dtype=np.float64)
    blocks, threads, group = _gradient_launch(B, d)
    partial_d = cuda.device_array((blocks * (threads // group), P + K + 2), dtype=np.float64)
    coef_flat = coef_d.reshape(P)
    fin_blocks, fin_threads = _launch_1d(P + K + 1)
    stat_blocks, stat_threads = _launch_1d(max(P, val_rows.size, 1))
    stat_blocks = min(stat_blocks, 1024)

    half_bits = max(1, (max(n_train - 1, 1).bit_length() + 1) // 2)
    rng = np.random.default_rng(int(cfg.seed))

    t = float(t0)
    last_eta = 0.0
    for _epoch in range(int(cfg.max_iter)):
        if cfg.shuffle and cfg.batch_size != 0:
            keys = [int(k) for k in rng.integers(0, 2**32, size=4)]
            kn.permute[_launch_1d(n_train)](train_rows_d, order_d, half_bits, *keys)
            order = order_d
        else:
            order = train_rows_d
        kn.zero[_launch_1d(kn.N_STATS)](stats_d)
        for start in range(0, n_train, B):
            rows = order[start : min(n_train, start + B)]
            kn.batch_gradient[blocks, threads](
                X,
                y_d,
                weight_d,
                rows,
                coef_d,
                intercept_d,
                K,
                int(cfg.loss),
                float(cfg.loss_param),
                group,
                partial_d,
                stats_d,
            )
            kn.finalize_gradient[fin_blocks, fin_threads](
                partial_d,
                coef_d,
                grad_d,
                l2,
                penalty.intercept_linear,
                float(cfg.clip_value),
                bool(cfg.fit_intercept),
                stats_d,
            )
            if check_batch_weight and stats_d[kn.STAT_BATCH_WEIGHT] == 0:
                continue
            eta = float(policy.eta(t))
            last_eta = eta
            avg_mu = 1.0 / (t - average + 1.0) if average > 0 and average <= t else 0.0
            opt.step(
                0,
                coef_flat,
                grad_d[:P],
                eta,
                stats_d,
                float(cfg.clip_norm),
                l1=eta * l1_step,
                avg=avg_coef_d,
                avg_mu=avg_mu,
                rows=K,
            )
            if cfg.fit_intercept:
                opt.step(
                    1,
                    intercept_d,
                    grad_d[P:],
                    eta,
                    stats_d,
                    float(cfg.clip_norm),
                    avg=avg_b_d,
                    avg_mu=avg_mu,
                )
            elif avg_mu > 0:
                opt.average_only(intercept_d, avg_b_d, avg_mu)
            t += 1.0
        kn.epoch_stats[stat_blocks, stat_threads](
            coef_d,
            intercept_d,
            X,
            y_d,
            sw_d,
            val_rows_d,
            K,
            bool(cfg.classification),
            int(cfg.loss),
            float(cfg.loss_param),
            stats_d,
        )
        stats = stats_d.copy_to_host()  # the epoch's only read-back
        finite = bool(np.isfinite(stats[[kn.STAT_WW, kn.STAT_B]]).all())
        penalty_value = penalty.value_from_sums(
            float(stats[kn.STAT_WW]), float(stats[kn.STAT_ABS])
        ) + penalty.intercept_linear * float(stats[kn.STAT_BSUM])
        score = _validation_score(stats, cfg) if cfg.early_stopping else math.nan
        # The last batch's squared gradient norm, reduced for clip_norm; after clipping by value
        # it is no longer the norm before clipping that history_ reports: NaN then.
        grad_norm = math.sqrt(stats[kn.STAT_NORM]) if cfg.clip_value == 0 else math.nan
        if policy.end_epoch(
            float(stats[kn.STAT_LOSS]),
            train_weight,
            penalty_value,
            finite,
            score,
            last_eta,
            t,
            grad_norm,
        ):
            break
    res = policy.result
    res.optimizer_state = opt.state()
    coef[...] = coef_d.copy_to_host().reshape(coef.shape)
    intercept[...] = intercept_d.copy_to_host()
    if average > 0:
        average_coef[...] = avg_coef_d.copy_to_host().reshape(average_coef.shape)
        average_intercept[...] = avg_b_d.copy_to_host()
    return res


def _validation_score(stats, cfg):
    """Weighted accuracy, R^2 or D^2 on the validation rows, by the engine's rule."""
    v = _core.ValidationSums()
    v.weight, v.hit = float(stats[kn.STAT_VW]), float(stats[kn.STAT_HIT])
    v.wy, v.wyy, v.sse = (
        float(stats[kn.STAT_VY]),
        float(stats[kn.STAT_VYY]),
        float(stats[kn.STAT_SSE]),
    )
    v.deviance, v.constant = float(stats[kn.STAT_VDEV]), float(stats[kn.STAT_VCONST])
    return v.score(bool(cfg.classification), cfg.loss, float(cfg.loss_param))
