"""Warnings raised by hillmix_opt."""

__all__ = ["ZeroWeightWarning"]


class ZeroWeightWarning(UserWarning):
    """A model has weight zero: the allocator leaves it out of the objective."""
