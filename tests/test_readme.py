"""Every Python snippet in the README and in the user guide (docs/guide) runs as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
SNIPPETS = [
    (page, code)
    for page in PAGES
    if page.exists()
    for code in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
]


@pytest.mark.skipif(not PAGES[0].exists(), reason="README.md is not beside the tests")
def test_readme_and_guide_have_snippets():
    pages = {page.name for page, _ in SNIPPETS}
    assert "README.md" in pages
    assert len(pages) > 4  # the guide's pages too


@pytest.mark.parametrize(
    "page, code",
    SNIPPETS,
    ids=[f"{page.stem}-{i}" for i, (page, _) in enumerate(SNIPPETS)],
)
def test_snippet_runs(page, code):
    exec(compile(code, str(page), "exec"), {"__name__": "__readme__"})
