"""The pattern every explorer follows: controls + one matplotlib figure redrawn in place.

* the figure is created once, off pyplot, with a fixed layout (no duplicate display, no ``clear_output``
  flicker), with its artists kept in a dict;
* on each control change, ``update`` changes the artists' data in place and the
  figure is rendered to a PNG shown by an ``ipywidgets.Image``; axes, ticks and
  labels are drawn once and reused (blitting) while the view limits stay put;
* the whole state is one printable line (``explorer.state``), so that a
  classroom can reproduce exactly what was on the screen;
* ``explorer.result`` holds the numbers behind the picture (tests read them);
* ``explorer.last_update_ms`` is how long the last redraw took (budget: 150 ms).

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

import io
import time
from contextlib import contextmanager
from typing import Any, Callable

import ipywidgets as widgets
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class Explorer:
    """Interactive figure: ``controls`` (name -> widget), ``setup(fig) -> artists`` and
    ``update(artists, **values) -> result``, which changes the artists in place and may
    return a dict of computed numbers (kept as ``explorer.result``). An optional
    ``readout(result, **values) -> str`` adds a line of HTML under the figure, and
    ``on_change(controls, **values)`` may enable or disable controls."""

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
        self._background = None
        self._limits = None
        self._update = update
        self._readout = readout
        self._on_change = on_change
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width=f"{figsize[0] * dpi}px"))
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
        """The settings as one line, e.g. ``depth=10 activation='tanh'``."""
        return " ".join(f"{name}={value!r}" for name, value in self.values.items())

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
        self.result = self._update(self.artists, **values) or {}
        self.image.value = self._render()
        readout = self._readout(self.result, **values) if self._readout else ""
        self.text.value = f"{readout}<br><code style='font-size:85%'>{self.state}</code>" if readout else \
            f"<code style='font-size:85%'>{self.state}</code>"
        self.last_update_ms = (time.perf_counter() - start) * 1000

    def _render(self) -> bytes:
        """Blit: the axes, ticks and labels are drawn once and reused while the view
        limits stay the same; only the artists returned by ``setup`` are redrawn."""
        limits = [(ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale()) for ax in self.figure.axes]
        canvas = self.figure.canvas
        if self._background is None or limits != self._limits:
            canvas.draw()  # animated artists are left out
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._limits = limits
        else:
            canvas.restore_region(self._background)
        for artist in self._animated:
            self.figure.draw_artist(artist)
        return encode_png(self.figure)

    @property
    def widget(self) -> widgets.VBox:
        controls = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        return widgets.VBox([controls, self.image, self.text])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

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
