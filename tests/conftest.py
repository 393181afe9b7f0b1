import os
from pathlib import Path

# scikit-learn's array-API estimator checks run only with this set, before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest

# ../shared/data beside the checkout; tests that need it skip when it is absent.
DATA_DIR = Path(
    os.environ.get("FASTDESCENT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


@pytest.fixture
def data_dir():
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared data sets not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param
