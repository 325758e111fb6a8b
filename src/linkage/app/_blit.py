"""Fast redraws for the dashboards: a figure's frame is drawn once, the data on top of it each time.

Most of the time matplotlib spends on a small dashboard figure goes to the frame: creating axes and
tick objects, laying out and rasterising tick labels. None of it changes while a viewer moves the
period slider, as long as the axis limits stay the same. :func:`frame_png` therefore keeps, per
process, one drawn *frame* per key (figure size, axis limits, labels) and its pixels, and for each
call restores those pixels and draws only the artists of this call on top ("blitting", as
matplotlib's animation guide describes it), then encodes the PNG. Axis limits are snapped to a
coarse grid by :func:`snap_limits` so that different selections share frames.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from PIL import Image

__all__ = ["frame_png", "snap_limits", "clear_frames", "DPI"]


DPI = 72
_MAX_LAYOUTS = 16
_MAX_BACKGROUNDS = 256
#: layout key -> (figure, canvas): the axes, ticks and labels, built once
_LAYOUTS: OrderedDict[Hashable, tuple[Figure, FigureCanvasAgg]] = OrderedDict()
#: (layout key, limits) -> the frame's pixels at those axis limits
_BACKGROUNDS: OrderedDict[Hashable, object] = OrderedDict()
#: (layout key, limits, axes number, text) -> the pixels of an axes title drawn over that frame
_TITLES: OrderedDict[Hashable, object] = OrderedDict()
_LOCK = threading.Lock()

Limits = tuple[float, float] | None


def snap_limits(
    lo: float,
    hi: float,
    *,
    steps: Sequence[float] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
    pad: float = 0.06,
    max_ticks: int = 6,
) -> tuple[float, float]:
    """Axis limits around ``[lo, hi]``, padded and widened to multiples of a round step.

    The step is the smallest of ``steps`` that spans the padded range in at most ``max_ticks``
    steps, so nearby data ranges land on the same limits (and share a frame).

    Examples
    --------
    >>> snap_limits(0.912, 0.987)
    (0.9, 1.0)
    >>> snap_limits(-0.12, 0.41)
    (-0.2, 0.6)
    >>> snap_limits(0.5, 0.5)
    (0.49, 0.51)
    """
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return 0.0, 1.0
    lo, hi = min(lo, hi), max(lo, hi)
    span = hi - lo
    lo, hi = lo - pad * span - 1e-9, hi + pad * span + 1e-9
    for step in steps:
        a, b = np.floor(lo / step), np.ceil(hi / step)
        if b - a <= max_ticks:
            break
    return round(float(a * step), 10), round(float(b * step), 10)


def _children(fig: Figure) -> list[Artist]:
    return [c for ax in fig.axes for c in ax.get_children()] + list(fig.texts)


def _fixed_note(a: Artist, ax: Axes) -> bool:
    """A text placed in axes coordinates (a corner label such as "employees lead"): it reads the
    same for every selection, so it belongs to the frame, drawn once."""
    return (
        isinstance(a, Text) and not isinstance(a, Annotation) and a.get_transform() == ax.transAxes
    )


def _data_artists(fig: Figure) -> list[Artist]:
    return [
        a
        for ax in fig.axes
        for a in (*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images, *ax.artists)
        if not _fixed_note(a, ax)
    ]


def _remember(store: OrderedDict, key: Hashable, value: object, size: int) -> None:
    store[key] = value
    if len(store) > size:
        store.popitem(last=False)


def frame_png(
    layout: Hashable,
    *,
    figsize: tuple[float, float],
    build: Callable[[Figure], None],
    draw: Callable[[Figure], None],
    xlim: Limits = None,
    ylim: Limits = None,
    keep_data: bool = False,
    colors: int | None = 128,
) -> bytes:
    """PNG bytes of a figure whose frame is drawn once per layout and limits, its data per call.

    Parameters
    ----------
    layout : hashable
        Identifies the figure's layout: everything ``build`` depends on (axes, labels, size).
    figsize : (float, float)
        Figure size in inches (at :data:`DPI`).
    build : callable(fig)
        Draws the frame on an empty figure: axes and labels. Unless ``keep_data``, the data artists
        it leaves (lines, collections, patches, texts of the axes) are removed before the frame is
        kept, so ``build`` may simply call the plot with this call's data. Texts placed in axes
        coordinates (corner labels) stay in the frame, and ``draw``'s copies of them are not drawn
        again.
    draw : callable(fig)
        Adds this call's artists to the axes (autoscaling is off, so limits stay). They are drawn
        over the frame in z-order and removed again afterwards; each axes' title is drawn with
        them (under them: it sits above the axes, the data inside), so ``draw`` may set titles
        (unless ``keep_data``: then titles are part of the frame); each title's pixels are kept per
        frame and text, so a title seen before is not rendered again.
    xlim, ylim : (float, float), optional
        Limits of the first axes. The frame's pixels are kept per layout and limits; changing them
        redraws the frame once (ticks and labels), not the figure.
    keep_data : bool
        Keep what ``build`` drew as part of the frame (for figures whose data does not change with
        the selection, only an overlay does).
    colors : int or None, default 128
        Encode with a palette of this many colours (a dashboard figure has a handful of colours
        plus their anti-aliasing: the PNG is about a third the size, so it reaches the browser
        sooner, and looks the same); None keeps full RGBA.

    Examples
    --------
    >>> def build(fig):
    ...     fig.add_subplot()
    >>> def draw(fig):
    ...     fig.axes[0].plot([0, 1], [0, 1])
    >>> b = frame_png("doc", figsize=(2, 2), build=build, draw=draw, xlim=(0, 1), ylim=(0, 1))
    >>> b[1:4] == b"PNG", ("doc", (0, 1), (0, 1)) in _BACKGROUNDS
    (True, True)
    """
    with _LOCK:
        entry = _LAYOUTS.get(layout)
        if entry is None:
            fig = Figure(figsize=figsize, dpi=DPI)
            canvas = FigureCanvasAgg(fig)
            build(fig)
            if not keep_data:
                for a in _data_artists(fig):
                    a.remove()
            for ax in fig.axes:
                ax.set_autoscale_on(False)
                if not keep_data:  # titles may change with the data; with keep_data they are fixed
                    ax.title.set_animated(True)
            entry = (fig, canvas)
            _remember(_LAYOUTS, layout, entry, _MAX_LAYOUTS)
        else:
            _LAYOUTS.move_to_end(layout)
        fig, canvas = entry
        if fig.axes:
            if xlim is not None:
                fig.axes[0].set_xlim(*xlim)
            if ylim is not None:
                fig.axes[0].set_ylim(*ylim)
        key = (layout, xlim, ylim)
        background = _BACKGROUNDS.get(key)
        if background is None:
            canvas.draw()
            background = canvas.copy_from_bbox(fig.bbox)
            _remember(_BACKGROUNDS, key, background, _MAX_BACKGROUNDS)
        else:
            _BACKGROUNDS.move_to_end(key)
        before = {id(c) for c in _children(fig)}
        try:
            draw(fig)
            new = [
                c
                for ax in fig.axes
                for c in ax.get_children()
                if id(c) not in before and not _fixed_note(c, ax)
            ]
            new += [c for c in fig.texts if id(c) not in before]
            canvas.restore_region(background)
            for i, ax in enumerate(fig.axes):
                if ax.title.get_animated() and ax.title.get_text():
                    _title(canvas, fig, ax.title, (key, i, ax.title.get_text()))
            for a in sorted(new, key=lambda a: a.get_zorder()):
                a.set_animated(True)
                fig.draw_artist(a)
            pixels = np.asarray(canvas.buffer_rgba())
            image = Image.fromarray(pixels)
            if colors is not None:
                image = image.convert("RGB").quantize(
                    colors=colors, method=Image.Quantize.FASTOCTREE
                )
            buf = io.BytesIO()
            image.save(buf, format="png", compress_level=3)
            return buf.getvalue()
        finally:
            for c in _children(fig):
                if id(c) not in before:
                    c.remove()


def _title(canvas: FigureCanvasAgg, fig: Figure, title: Text, key: Hashable) -> None:
    """Draw an axes title over the frame: the first time rendered (laying out and rasterising a
    line of text costs about as much as the rest of a redraw), then from its kept pixels.

    The title sits above the axes and the data is clipped to the axes, so the title is put down
    before the data without anything of the data being hidden."""
    region = _TITLES.get(key)
    if region is None:
        fig.draw_artist(title)
        box = title.get_window_extent(canvas.get_renderer()).padded(2)
        region = canvas.copy_from_bbox(box)
        _remember(_TITLES, key, region, _MAX_BACKGROUNDS)
    else:
        _TITLES.move_to_end(key)
        canvas.restore_region(region)


def clear_frames() -> None:
    """Forget every kept frame (tests; memory)."""
    with _LOCK:
        _LAYOUTS.clear()
        _BACKGROUNDS.clear()
        _TITLES.clear()
