"""
Learning-rate schedules
=======================

The step sizes of a few schedules of :mod:`fastdescent.schedules` over 1,000 updates. The
estimators evaluate the same schedules in C++ at every update; ``values(n)`` tabulates them.
"""

import matplotlib.pyplot as plt

from fastdescent import schedules as S
from fastdescent.plot import schedule

steps = 1000
chosen = {
    "StepLR": S.StepLR(0.1, step_size=250, gamma=0.5),
    "CosineAnnealingLR": S.CosineAnnealingLR(0.1, T_max=steps),
    "OneCycleLR": S.OneCycleLR(0.1, total_steps=steps),
    "warmup, then cosine": S.LinearWarmup(S.CosineAnnealingLR(0.1, T_max=steps - 100), 100),
}
ax = schedule(list(chosen.values()), steps, list(chosen))
ax.set_xlabel("update")
plt.show()
