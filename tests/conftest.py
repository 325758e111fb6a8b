"""Fixtures shared by the whole suite."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> pathlib.Path:
    """The bundled sample world (``data/sample``), rebuilt by ``make sample``."""
    return SAMPLE_DIR
