"""Blitted dashboard figures (linkage.app._blit): same pixels as a full draw, frames reused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from linkage.app import _blit
from linkage.app._blit import DPI, frame_png, snap_limits


def _pixels(b: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGBA"), dtype=int)


def _full(draw, xlim, ylim) -> np.ndarray:
    fig = Figure(figsize=(3, 2), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw(fig)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return _pixels(buf.getvalue())


def _scatter(xs, ys, title):
    def draw(fig):
        ax = fig.axes[0]
        ax.scatter(xs, ys, color="#555555")
        ax.axhline(float(np.median(ys)), color="red", ls="--")
        ax.set_title(title, fontsize=8, y=1.0)
        ax.set_xlabel("x")
    return draw


@pytest.fixture(autouse=True)
def _fresh():
    _blit.clear_frames()
    yield
    _blit.clear_frames()


def test_blitted_figure_has_the_pixels_of_a_full_draw():
    rng = np.random.default_rng(1)
    draw = _scatter(rng.uniform(0.1, 0.9, 30), rng.uniform(0.1, 0.9, 30), "thirty units")

    def build(fig):
        fig.add_subplot()
        draw(fig)

    got = _pixels(frame_png("t", figsize=(3, 2), build=build, draw=draw, xlim=(0, 1), ylim=(0, 1),
                               colors=None))
    want = _full(draw, (0, 1), (0, 1))
    assert got.shape == want.shape
    assert (np.abs(got - want).max(axis=2) > 8).mean() < 0.002  # anti-aliasing of overlaps at most


def test_a_second_selection_reuses_the_frame_and_leaves_nothing_behind():
    rng = np.random.default_rng(2)
    first = _scatter(rng.uniform(0.1, 0.9, 30), rng.uniform(0.1, 0.9, 30), "first")
    second = _scatter(rng.uniform(0.1, 0.9, 12), rng.uniform(0.1, 0.9, 12), "second")

    def build(fig):
        fig.add_subplot()

    frame_png("t", figsize=(3, 2), build=build, draw=first, xlim=(0, 1), ylim=(0, 1))
    fig, _ = _blit._LAYOUTS["t"]
    n_children = len(fig.axes[0].get_children())
    got = _pixels(frame_png("t", figsize=(3, 2), build=build, draw=second, xlim=(0, 1), ylim=(0, 1),
                            colors=None))
    assert len(_blit._LAYOUTS) == 1 and len(_blit._BACKGROUNDS) == 1  # no new frame drawn
    assert len(fig.axes[0].get_children()) == n_children  # this call's artists were removed
    want = _full(second, (0, 1), (0, 1))
    assert (np.abs(got - want).max(axis=2) > 8).mean() < 0.002  # nothing of "first" shows


def test_new_limits_redraw_the_frame_with_their_ticks():
    draw = _scatter([0.2, 0.4], [0.3, 0.5], "two")

    def build(fig):
        fig.add_subplot()

    a = frame_png("t", figsize=(3, 2), build=build, draw=draw, xlim=(0, 1), ylim=(0, 1), colors=None)
    b = frame_png("t", figsize=(3, 2), build=build, draw=draw, xlim=(0, 0.5), ylim=(0, 1), colors=None)
    assert len(_blit._BACKGROUNDS) == 2 and a != b
    assert (np.abs(_pixels(b) - _full(draw, (0, 0.5), (0, 1))).max(axis=2) > 8).mean() < 0.002


def test_titles_come_from_kept_pixels_and_leave_nothing_behind():
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(0.1, 0.9, 20), rng.uniform(0.1, 0.9, 20)
    long = _scatter(xs, ys, "a long title that covers most of the width")
    short = _scatter(xs, ys, "short")

    def build(fig):
        fig.add_subplot()

    def png(draw):
        return frame_png("t", figsize=(3, 2), build=build, draw=draw, xlim=(0, 1), ylim=(0, 1), colors=None)

    first = png(long)
    assert len(_blit._TITLES) == 1
    got = _pixels(png(short))  # after the long title: none of it left over the short one
    assert (np.abs(got - _full(short, (0, 1), (0, 1))).max(axis=2) > 8).mean() < 0.002
    again = png(long)  # from the kept pixels, not rendered again
    assert len(_blit._TITLES) == 2 and again == first


@settings(max_examples=200, deadline=None)
@given(st.floats(-1, 1), st.floats(-1, 1))
def test_snapped_limits_contain_the_data_on_a_round_step(a, b):
    lo, hi = snap_limits(a, b)
    assert lo <= min(a, b) and hi >= max(a, b) and lo < hi
    steps = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    assert any(abs(lo / s - round(lo / s)) < 1e-6 and abs(hi / s - round(hi / s)) < 1e-6 for s in steps)


def test_palette_encoding_is_smaller_and_looks_the_same():
    rng = np.random.default_rng(3)
    draw = _scatter(rng.uniform(0.1, 0.9, 60), rng.uniform(0.1, 0.9, 60), "sixty units")

    def build(fig):
        fig.add_subplot()

    full = frame_png("t", figsize=(4, 3), build=build, draw=draw, xlim=(0, 1), ylim=(0, 1), colors=None)
    small = frame_png("t", figsize=(4, 3), build=build, draw=draw, xlim=(0, 1), ylim=(0, 1))
    assert len(small) < 0.7 * len(full)
    a, b = _pixels(full)[..., :3], _pixels(small)[..., :3]
    assert np.abs(a - b).mean() < 2 and (np.abs(a - b).max(axis=2) > 24).mean() < 0.01
