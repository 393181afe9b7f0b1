"""``python -m fastdescent``: see :mod:`fastdescent.cli`."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
