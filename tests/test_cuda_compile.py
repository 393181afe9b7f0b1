"""device='cuda': every kernel and device function of fastdescent.cuda._kernels compiles for
real GPUs (PTX, then SASS), without a GPU.

tests/test_cuda.py runs the kernels under Numba's CUDA simulator, which executes them as plain
Python: type unification failures, constructs that device code does not support, float32
creeping into float64 training and the like show up only when Numba really compiles them.
Here NVVM compiles each kernel to PTX (numba.cuda.compile_ptx) with the argument types the
trainer (fastdescent.cuda._trainer) launches it with, for float32 and float64 training; the
device functions are compiled standalone with the types the kernels call them with. nvJitLink
then assembles each PTX into machine code (SASS) for the target, as the driver would at launch.
None of this needs a GPU or a driver, only the toolkit libraries that
``pip install "numba-cuda[cu13]"`` brings (the ``cuda-compile`` extra; without it the module
skips, naming it).

The compilation runs in a fresh interpreter per compute capability, without
NUMBA_ENABLE_CUDASIM: tests/test_cuda.py switches the simulator on before Numba is first
imported in the test process, so this module never imports Numba itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

# Compute capabilities compiled for: Ampere (A100) and Hopper (H100).
TARGETS = [(8, 0), (9, 0)]
DTYPES = ("float32", "float64")
DEVICE_FUNCTIONS = {"scalar_loss", "deviance_constant", "_round_hash", "_adafactor_y"}
STATIC_SHARED_LIMIT = 48 * 1024  # bytes of static shared memory a block may use

SKIP_EXIT = 3  # the worker's exit status when NVVM is missing (the test then skips)


# ---- The worker: runs in its own interpreter, without the simulator -------------------------


def _launch_signatures(T):
    """{kernel name: [argument types]} as _trainer launches the kernels when training in T.

    Device arrays are C-contiguous: the trainer makes them with to_device of contiguous host
    arrays or device_array, and passes contiguous slices and reshapes of those (a device X
    must be C-contiguous). Python ints type as int64, floats as float64, bools as boolean.
    """
    from numba import types as nt

    def vec(dt):
        return nt.Array(dt, 1, "C")

    def mat(dt):
        return nt.Array(dt, 2, "C")

    f64, i64, b1 = nt.float64, nt.int64, nt.boolean
    w = vec(T)  # a flat parameter array, its gradient, an optimizer state or average
    stats = vec(f64)  # stats_d; the optimizer's lamb_sums has the same type
    other = nt.float64 if T == nt.float32 else nt.float32
    return {
        # to_device: a device X of the other float dtype, converted on the device.
        "cast_rows": [mat(other), mat(T)],
        # train(): the shuffle, the batch gradient and its reduction, the epoch statistics.
        "permute": [vec(i64), vec(i64), i64, i64, i64, i64, i64],
        "zero": [stats],
        "batch_gradient": [mat(T), vec(T), vec(T), vec(i64), mat(T), vec(T), i64, i64, f64, i64,
                           mat(f64), stats],
        "finalize_gradient": [mat(f64), mat(T), vec(T), f64, f64, f64, b1, stats],
        "epoch_stats": [mat(T), vec(T), mat(T), vec(T), vec(T), vec(i64), i64, b1, i64, f64, stats],
        # DeviceOptimizer.step and average_only.
        "update_params": [w, w, w, w, w, w, stats, i64, i64] + [f64] * 12,
        "lamb_moments": [w, w, w, w, stats] + [f64] * 7 + [stats],
        "lamb_apply": [w, w, w, stats] + [f64] * 6 + [w, f64],
        # DeviceOptimizer._adafactor.
        "clip_by_norm_in_place": [w, stats, f64],
        "adafactor_rows": [w, w, i64, f64, f64, stats],
        "adafactor_cols": [w, w, i64, f64, f64],
        "adafactor_moments": [w, w, w, w, w, b1, f64, f64, stats],
        "adafactor_apply": [w, w, w, w, w, w, b1, stats, f64, f64, b1, f64, f64, f64, f64, w,
                            f64],
    }


def _ptx_precision(ptx):
    """What a kernel's PTX does in float32: memory accesses, and roundings from float64.

    (libdevice's float64 math functions compare float32 views of their arguments internally,
    so float32 comparisons alone say nothing.)
    """
    return {"f32_memory": bool(re.search(r"\b(ld|st)(\.\w+)*\.f32\b", ptx)),
            "f64_to_f32": bool(re.search(r"\bcvt(\.\w+)*\.f32\.f64\b", ptx))}


def _assembler(cc):
    """A function PTX -> (ok, ptxas info log) through nvJitLink, or a reason it is missing."""
    try:
        try:
            from cuda.core import Linker, LinkerOptions, ObjectCode
        except ImportError:
            from cuda.core.experimental import Linker, LinkerOptions, ObjectCode
        from cuda.pathfinder import load_nvidia_dynamic_lib

        load_nvidia_dynamic_lib("nvJitLink")
    except Exception as exc:  # no cuda.core, or no libnvJitLink
        return f"nvJitLink not found: {exc}".splitlines()[0]

    def assemble(ptx, name):
        linker = Linker(ObjectCode.from_ptx(ptx.encode(), name=name),
                        options=LinkerOptions(arch=f"sm_{cc[0]}{cc[1]}", verbose=True))
        linker.link("cubin")
        return linker.get_info_log()

    return assemble


def _resources(log):
    """(registers, static shared memory bytes) from nvJitLink's verbose ptxas log."""
    regs = re.search(r"[Uu]sed (\d+) registers", log)
    smem = re.findall(r"(\d+) bytes smem", log)
    return (int(regs.group(1)) if regs else None, max((int(s) for s in smem), default=0))


def _compile_all(cc):
    """Compile every kernel for float32 and float64 training, and every device function with
    the argument types its callers gave it; returns a JSON-able report."""
    from numba import cuda
    from numba import types as nt
    from numba.cuda import dispatcher as cuda_dispatcher
    from numba.cuda.cudadrv import nvvm
    from numba.cuda.cudadrv.libs import get_libdevice

    try:
        nvvm.NVVM()
        get_libdevice()
    except Exception as exc:  # NvvmSupportError, or pathfinder's library-not-found errors
        print(f"NVVM / libdevice not found (pip install '.[cuda-compile]'): {exc}"
              .splitlines()[0], file=sys.stderr)
        sys.exit(SKIP_EXIT)

    # A kernel calling a @cuda.jit(device=True) function compiles it through the function's
    # dispatcher, which asks the current GPU for its compute capability. There is no GPU
    # here: it gets the target's.
    class Target:
        compute_capability = cc

    cuda_dispatcher.get_current_device = lambda: Target()

    from fastdescent.cuda import _kernels as kn

    dispatchers = {name: obj for name, obj in vars(kn).items()
                   if isinstance(obj, cuda_dispatcher.CUDADispatcher)}
    kernels = {n: d for n, d in dispatchers.items() if not d.targetoptions.get("device")}
    device_functions = {n: d for n, d in dispatchers.items() if d.targetoptions.get("device")}
    assemble = _assembler(cc)
    report = {"cc": list(cc), "kernels": {n: {} for n in kernels}, "device_functions": {},
              "errors": [], "unlisted": [],
              "sass": None if callable(assemble) else assemble}

    def build(key, pyfunc, args, device=False):
        try:
            ptx, resty = cuda.compile_ptx(pyfunc, tuple(args), device=device, cc=cc)
        except Exception as exc:
            report["errors"].append(f"{key}: {type(exc).__name__}: {exc}")
            return None
        info = {"entry": ".entry" in ptx, "func": ".func" in ptx, "void": resty == nt.void}
        info.update(_ptx_precision(ptx))
        if callable(assemble) and not device:
            try:
                info["registers"], info["shared"] = _resources(assemble(ptx, key))
            except Exception as exc:
                report["errors"].append(f"{key} (SASS): {type(exc).__name__}: {exc}")
        return info

    for dtype in DTYPES:
        signatures = _launch_signatures(getattr(nt, dtype))
        report["unlisted"] = sorted(set(kernels) - set(signatures))
        for name, args in signatures.items():
            if name not in kernels:
                report["errors"].append(f"{name}: no such kernel in _kernels.py")
                continue
            info = build(f"{name}[{dtype}]", kernels[name].py_func, args)
            if info is not None:
                report["kernels"][name][dtype] = info
    # float32 training on a float16 X, which stays float16 on the device: the kernels that read X.
    report["float16_X"] = {}
    for name in ("batch_gradient", "epoch_stats"):
        args = list(_launch_signatures(nt.float32)[name])
        args[0] = nt.Array(nt.float16, 2, "C")
        info = build(f"{name}[float16 X]", kernels[name].py_func, args)
        if info is not None:
            report["float16_X"][name] = info
    for name, fn in device_functions.items():
        report["device_functions"][name] = {}
        for args in list(fn.overloads):  # the types the kernels above called it with
            key = f"{name}({', '.join(str(a) for a in args)})"
            info = build(key, fn.py_func, args, device=True)
            if info is not None:
                report["device_functions"][name][key] = info
    return report


# ---- The test --------------------------------------------------------------------------------


def _package_root():
    return str(Path(importlib.util.find_spec("fastdescent").origin).resolve().parents[1])


def _run_worker(cc):
    """_compile_all(cc) in a fresh interpreter without the simulator; its report."""
    # Looked up without importing Numba: test_cuda.py must be the first to import it here.
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed")
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    env["NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING"] = "1"  # plain text in assertion messages
    env["PYTHONPATH"] = os.pathsep.join(
        [_package_root()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    proc = subprocess.run([sys.executable, __file__, f"{cc[0]}.{cc[1]}"], env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode == SKIP_EXIT:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# One test per target, so that pytest-xdist compiles each target once, in one worker.
@pytest.mark.parametrize("cc", TARGETS, ids=lambda cc: f"sm_{cc[0]}{cc[1]}")
def test_kernels_compile_for_gpu(cc):
    report = _run_worker(cc)
    assert report["errors"] == [], "\n\n".join(report["errors"])
    # A new kernel needs its launch types in _launch_signatures to be compiled here.
    assert report["unlisted"] == []
    assert len(report["kernels"]) >= 14
    for name, by_dtype in report["kernels"].items():
        assert set(by_dtype) == set(DTYPES), name
        for dtype, info in by_dtype.items():
            assert info["entry"] and info["void"], f"{name}[{dtype}]"
            if dtype == "float64" and name != "cast_rows":  # cast_rows reads a float32 X
                assert not info["f32_memory"], f"{name}[float64] reads or writes float32"
                assert not info["f64_to_f32"], f"{name}[float64] rounds to float32"
            if report["sass"] is None:  # assembled: ptxas reported its resources
                assert info["registers"] is not None, f"{name}[{dtype}]"
                assert info["shared"] <= STATIC_SHARED_LIMIT, f"{name}[{dtype}]: {info}"
    assert set(report["float16_X"]) == {"batch_gradient", "epoch_stats"}
    for name, info in report["float16_X"].items():
        assert info["entry"] and info["void"], f"{name}[float16 X]"
    assert set(report["device_functions"]) == DEVICE_FUNCTIONS
    for name, overloads in report["device_functions"].items():
        assert overloads, f"no kernel calls {name}"
        for key, info in overloads.items():
            assert info["func"], key
            if "float32" not in key:  # float64 in, no rounding to float32 inside
                assert not info["f64_to_f32"], key
    if report["sass"] is not None:
        warnings.warn(f"PTX not assembled to SASS: {report['sass']}", stacklevel=1)


if __name__ == "__main__":
    major, minor = (int(v) for v in sys.argv[1].split("."))
    print(json.dumps(_compile_all((major, minor))))
