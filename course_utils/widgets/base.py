"""The pattern every explorer follows: controls + one matplotlib figure redrawn in place.

* the figure is created once, off pyplot, with a fixed layout (no duplicate display, no ``clear_output``
  flicker), with its artists kept in a dict;
* on each control change, ``update`` changes the artists' data in place and the
  figure is rendered to a PNG shown by an ``ipywidgets.Image``; axes, ticks and
  labels are drawn once and reused (blitting) while the view limits stay put, and
  the last few backgrounds are kept by view limits, so that going back to limits
  seen before (a depth slider moved back and forth) costs a blit, not a full draw.
  Anything else drawn in the background (titles, legends, other lines) is
  watched: when ``update`` changes it, every kept background is dropped;
* the whole state is one printable line (``explorer.state``), so that a
  classroom can reproduce exactly what was on the screen;
* ``explorer.result`` holds the numbers behind the picture (tests read them);
* ``explorer.last_update_ms`` is how long the last redraw took (budget: 150 ms);
* the picture says what it shows in words (``explorer.alt``: its panels, the readout's numbers and
  the state line), as the image's accessible name in JupyterLab and as ``alt`` wherever the widget
  cannot run: its display carries a static copy (the current frame with that alt text and its caption,
  as HTML, PNG and plain text) that static renderers (the course site, nbconvert, GitHub) show;
* a redraw runs with the BLAS and OpenMP thread pools (NumPy, PyTorch) limited to one
  thread: a widget's small computations gain nothing from more, and on a busy machine
  (the browser, JupyterLab, a training cell, a neighbour's job) spinning worker threads
  make them many times slower (measured: a 20-layer forward pass of a 500x256 batch,
  NumPy, took 230 ms with two threads on two busy cores, 22 ms with one).

>>> import ipywidgets as w
>>> def setup(fig):
...     ax = fig.add_subplot()
...     line, = ax.plot([0, 1], [0, 1])
...     return {"line": line}
>>> def update(artists, slope):
...     artists["line"].set_ydata([0, slope])
>>> explorer = Explorer({"slope": w.FloatSlider(value=1.0, min=-2, max=2)}, setup, update)
>>> explorer.state
'slope=1.0'
>>> explorer.set(slope=2.0).state
'slope=2.0'
"""

from __future__ import annotations

import base64
import html
import io
import re
import sys
import time
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
from typing import Any, Callable

import ipywidgets as widgets
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from traitlets import Unicode

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class FigureImage(widgets.Image):
    """An ``ipywidgets.Image`` whose ``tooltip`` becomes the ``<img>``'s title: its accessible name, read
    by screen readers (the Image view sets the title only for a widget with a synced ``description``)."""

    description = Unicode("").tag(sync=True)


class Explorer:
    """Interactive figure: ``controls`` (name -> widget), ``setup(fig) -> artists`` and
    ``update(artists, **values) -> result``, which changes the artists in place and may
    return a dict of computed numbers (kept as ``explorer.result``). An optional
    ``readout(result, **values) -> str`` adds a line of HTML under the figure, and
    ``on_change(controls, **values)`` may enable or disable controls."""

    #: Threads allowed to BLAS and OpenMP during a redraw (None: leave the pools alone).
    compute_threads: int | None = 1
    #: Backgrounds kept, one per set of view limits (about 1 MB each at the default size).
    kept_backgrounds: int = 16

    def __init__(self, controls: dict[str, widgets.ValueWidget], setup: Callable[[Figure], dict],
                 update: Callable[..., Any], *, figsize: tuple[float, float] = (9.0, 3.6), dpi: int = 80,
                 readout: Callable[..., str] | None = None, on_change: Callable[..., None] | None = None):
        self.controls = controls
        # A fixed layout: constrained layout would double the cost of every redraw.
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.artists = setup(self.figure)
        self._animated = [a for a in self.artists.values() if isinstance(a, Artist) and not isinstance(a, Axes)]
        for artist in self._animated:
            artist.set_animated(True)
        self._backgrounds: OrderedDict[tuple, Any] = OrderedDict()  # view limits -> pixels, newest last
        self._static_key: tuple | None = None
        self._update = update
        self._readout = readout
        self._on_change = on_change
        self.image = FigureImage(format="png", layout=widgets.Layout(width="100%", max_width=f"{figsize[0] * dpi}px"))
        self.text = widgets.HTML()
        self.last_update_ms = 0.0
        self.result: dict[str, Any] = {}
        self._holding = False
        for control in controls.values():
            control.observe(self._changed, names="value")
        self.redraw()

    @property
    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    @property
    def state(self) -> str:
        """The settings as one line, e.g. ``depth=10 activation='tanh'``; floats to 6 significant digits
        (a log slider's 10 ** -1.8 reads 0.0158489, not 0.01584893192461114)."""
        return " ".join(f"{name}={_short(value)!r}" for name, value in self.values.items())

    def set(self, **values: Any) -> "Explorer":
        """Change several controls at once (one redraw), e.g. ``explorer.set(depth=20)``."""
        for name in values:
            if name not in self.controls:
                raise KeyError(f"no control named {name!r}; controls: {', '.join(self.controls)}")
        with self._hold():
            for name, value in values.items():
                self.controls[name].value = value
        self.redraw()
        return self

    def redraw(self) -> None:
        """Update the artists for the current values and re-render the picture."""
        start = time.perf_counter()
        values = self.values
        if self._on_change is not None:
            self._on_change(self.controls, **values)
        with limited_threads(self.compute_threads):
            self.result = self._update(self.artists, **values) or {}
            png = self._render()
        self.readout = self._readout(self.result, **values) if self._readout else ""
        with self.image.hold_sync():  # one message for the picture and its words
            self.image.value = png
            self.image.tooltip = self.alt
        self.text.value = caption_html(self.readout, self.state)
        self.last_update_ms = (time.perf_counter() - start) * 1000

    @property
    def alt(self) -> str:
        """The picture in words, from the same numbers as its caption: the panels, the readout, the state.

        >>> import ipywidgets as w
        >>> def setup(fig):
        ...     ax = fig.add_subplot(title="loss")
        ...     return {"line": ax.plot([0, 1], [0, 1])[0]}
        >>> explorer = Explorer({"lr": w.FloatSlider(value=0.1)}, setup, lambda artists, lr: {"loss": 2 * lr},
        ...                     readout=lambda result, lr: f"loss <b>{result['loss']:.2f}</b>")
        >>> explorer.alt
        'Figure: loss. loss 0.20. Settings: lr=0.1.'
        """
        panels = "; ".join(filter(None, (_panel_words(ax) for ax in self.figure.axes)))
        words = [f"Figure: {panels}" if panels else "Figure", plain_text(self.readout), f"Settings: {self.state}"]
        return " ".join(_sentence(w) for w in words if w)

    def static_html(self) -> str:
        """The current frame as a self-contained ``<figure>``: the picture with :attr:`alt`, and the caption
        (readout and state) under it."""
        png = base64.b64encode(self.image.value).decode("ascii")
        width = int(self.figure.bbox.width)
        return (f'<figure class="course-explorer" style="margin:0">'
                f'<img src="data:image/png;base64,{png}" alt="{html.escape(self.alt)}" '
                f'style="max-width:100%;width:{width}px">'
                f'<figcaption>{caption_html(self.readout, self.state)}</figcaption></figure>')

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """The live widget, and a static copy of the current frame for renderers that cannot run it:
        JupyterLab shows the widget, the course site and nbconvert the HTML figure, plain viewers the PNG
        or the text (the readout and the state line)."""
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle.update({
            "text/html": self.static_html(),
            "image/png": base64.b64encode(self.image.value).decode("ascii"),
            "text/plain": " · ".join(filter(None, (plain_text(self.readout), self.state))),
        })
        return bundle

    def _render(self) -> bytes:
        """Blit: the axes, ticks and labels are drawn once per set of view limits and reused;
        only the artists returned by ``setup`` are redrawn. A kept background is never shown
        once something else in it has changed:

        >>> import ipywidgets as w
        >>> def setup(fig):
        ...     ax = fig.add_subplot()
        ...     return {"line": ax.plot([0, 1], [0, 1])[0], "ax": ax}
        >>> def update(artists, a, title):
        ...     artists["line"].set_ydata([0, a])
        ...     artists["ax"].set_ylim(0, max(a, 1))
        ...     artists["ax"].set_title(title)  # not returned by setup: part of the background
        >>> def explorer(a=1, title="x"):
        ...     return Explorer({"a": w.IntSlider(value=a, max=5), "title": w.Text(value=title)}, setup, update)
        >>> e = explorer()
        >>> for a, title in [(2, "x"), (1, "x"), (1, "y"), (2, "y")]:  # back to limits first seen with "x"
        ...     assert e.set(a=a, title=title).image.value == explorer(a, title).image.value
        """
        figure, canvas = self.figure, self.figure.canvas
        limits = (tuple(figure.bbox.bounds),) + tuple(
            (ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale()) for ax in figure.axes)
        static = self._static_artists()
        static_key = tuple((id(artist), artist.get_visible()) for artist in static)
        if static_key != self._static_key or any(artist.stale for artist in static):
            self._backgrounds.clear()  # the background itself changed: redraw it for every view
            self._static_key = static_key
        background = self._backgrounds.get(limits)
        if background is None:
            canvas.draw()  # animated artists are left out
            for artist in self._static_artists():
                artist.stale = False  # (drawing moves titles; empty texts are never marked as drawn)
            background = self._backgrounds[limits] = canvas.copy_from_bbox(figure.bbox)
            while len(self._backgrounds) > max(self.kept_backgrounds, 1):
                self._backgrounds.popitem(last=False)
        else:
            self._backgrounds.move_to_end(limits)
            canvas.restore_region(background)
        for artist in self._animated:
            figure.draw_artist(artist)
        return encode_png(figure)

    def _static_artists(self) -> list[Artist]:
        """The visible artists drawn into the background, except what follows the view limits
        (the axes themselves, their ticks and tick labels)."""
        animated = {id(artist) for artist in self._animated}
        found, stack = [], list(self.figure.get_children())
        while stack:
            artist = stack.pop()
            if id(artist) in animated:
                continue
            if isinstance(artist, Axes):
                stack.extend(artist.get_children())
            elif isinstance(artist, Axis):
                stack.append(artist.label)
            else:
                found.append(artist)
                if artist.get_visible():
                    stack.extend(artist.get_children())
        return found

    @property
    def widget(self) -> widgets.VBox:
        controls = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        return widgets.VBox([controls, self.image, self.text])

    def _changed(self, change) -> None:
        if not self._holding:
            self.redraw()

    @contextmanager
    def _hold(self):
        """Change several controls without one redraw per change."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False


_pools: dict[str, Any] = {"controller": None, "modules": -1}


def caption_html(readout: str, state: str) -> str:
    """The line under an explorer's figure: the readout (HTML) over the state line."""
    code = f"<code style='font-size:85%'>{html.escape(state, quote=False)}</code>"
    return f"{readout}<br>{code}" if readout else code


def plain_text(markup: str) -> str:
    """A readout's HTML as plain words (tags dropped, entities decoded, spaces collapsed).

    >>> plain_text("precision <b>0.83</b> &middot; recall<br>0.5")
    'precision 0.83 · recall 0.5'
    """
    text = re.sub(r"<br\s*/?>", " ", markup)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", text))).strip()


def _sentence(words: str) -> str:
    return words if words.endswith((".", "!", "?")) else words + "."


def _panel_words(ax: Axes) -> str:
    """A panel in words: its title, else what it plots against what (its axis labels)."""
    title = " ".join(filter(None, (ax.get_title(loc) for loc in ("left", "center", "right")))).strip()
    if title:
        return plain_text(title)
    x, y = ax.get_xlabel().strip(), ax.get_ylabel().strip()
    return f"{y} against {x}" if x and y else x or y


def _short(value: Any) -> Any:
    """A float rounded to 6 significant digits, anything else unchanged.

    >>> _short(0.9000000000000001), _short(10 ** -1.8), _short(1.0), _short(True), _short("a")
    (0.9, 0.0158489, 1.0, True, 'a')
    """
    return float(f"{value:.6g}") if isinstance(value, float) else value


def limited_threads(threads: int | None):
    """A context in which the BLAS and OpenMP pools loaded so far use at most ``threads`` threads
    (a no-op without threadpoolctl, which scikit-learn brings). Finding the pools takes a few ms
    with PyTorch loaded, so they are looked up again only after new modules were imported."""
    if threads is None:
        return nullcontext()
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return nullcontext()
    if _pools["controller"] is None or _pools["modules"] != len(sys.modules):
        _pools["controller"], _pools["modules"] = ThreadpoolController(), len(sys.modules)
    return _pools["controller"].limit(limits=threads)


def render_png(figure: Figure) -> bytes:
    """The whole figure as PNG bytes (Agg, no pyplot)."""
    figure.canvas.draw()
    return encode_png(figure)


def encode_png(figure: Figure) -> bytes:
    """What the Agg canvas holds now, as PNG bytes (fast compression: speed over size)."""
    from PIL import Image

    canvas = figure.canvas
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=1)
    return buffer.getvalue()
