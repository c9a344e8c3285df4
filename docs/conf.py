"""Sphinx configuration for hillmix."""

import hillmix

project = "hillmix"
author = "The hillmix developers"
copyright = "2026, The hillmix developers"
release = hillmix.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's metadata-routing setters, generated on every estimator.
    "exclude-members": (
        "set_fit_request,set_partial_fit_request,set_predict_request,set_score_request,"
        "set_predict_proba_request,set_transform_request"
    ),
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
html_theme = "pydata_sphinx_theme"
html_title = "hillmix"
exclude_patterns = ["_build"]
nitpicky = False
intersphinx_mapping = {}
suppress_warnings = ["autosummary.import_cycle"]
