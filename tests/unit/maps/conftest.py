"""Fixtures Maps' tests share with Blend's (the seed catalog slice)."""

from tests.unit.blend.conftest import seed_songs

__all__ = ["seed_songs"]
