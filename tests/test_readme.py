"""Every Python snippet in the README runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if README.exists() else []


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests")
def test_readme_has_snippets():
    assert SNIPPETS


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(code):
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
