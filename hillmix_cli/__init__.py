"""The ``hillmix`` command line: sits on top of hillmix, hillmix_sim and hillmix_opt."""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
