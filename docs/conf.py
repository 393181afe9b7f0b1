"""Sphinx configuration: API reference from the docstrings (numpydoc), the user guide's pages
(docs/guide, MyST), and a gallery of examples run at build time (sphinx-gallery)."""

import fastdescent

project = "fastdescent"
author = "the fastdescent developers"
copyright = "2026, the fastdescent developers"
release = version = fastdescent.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's generated metadata-routing setters: their docstrings point into
    # scikit-learn's own documentation (glossary, user guide labels).
    "exclude-members": "set_fit_request, set_partial_fit_request, set_score_request",
}
numpydoc_show_class_members = False  # autosummary lists them
numpydoc_class_members_toctree = False
myst_heading_anchors = 3

# Nothing is downloaded at build time: no inventories of other projects either.
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"fastdescent {version}"
html_theme_options = {"navigation_with_keys": False}
