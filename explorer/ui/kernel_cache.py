"""What a kernel does to the shared photo and to the moving window's grids, computed once.

Every session that shows the same photo, kernel and settings reuses the same tensors, JPEGs
and figures. The photo enters the caches by its small key (`kernels.image_key`: name, size
and a 32x32 sample), never by hashing its pixels; weights enter as nested tuples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st
import torch
from PIL import Image

from explorer import i18n, images, kernels, moving_window, predict_first
from explorer.figures import PrebuiltFigure, frozen
from explorer.figures import convolution as figures

_CACHE = {"max_entries": 16, "ttl": 3600, "show_spinner": False}


@st.cache_data(max_entries=128, ttl=3600, show_spinner=False)
def _kernel_question(seed: int, photo_key: tuple, _image: Image.Image,
                     lang: str) -> predict_first.Question:
    with i18n.use_language(lang):
        return predict_first.which_kernel(seed, _image)


def question(seed: int, photo: images.LoadedImage) -> predict_first.Question:
    """The "which kernel made this?" question of `seed` on the photo, in the session's
    language."""
    return _kernel_question(seed, kernels.image_key(photo.image, photo.name), photo.image,
                            i18n.language())


@st.cache_resource(**_CACHE)
def _input_tensor(photo_key: tuple, _image: Image.Image, colour: str) -> torch.Tensor:
    return kernels.image_tensor(_image, colour)


@st.cache_resource(**_CACHE)
def _convolve(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
              padding: str) -> torch.Tensor:
    return kernels.apply_kernel(_input_tensor(photo_key, _image, colour), torch.tensor(weights),
                                padding)


@st.cache_resource(**_CACHE)
def _histogram(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
               padding: str) -> kernels.OutputHistogram:
    return kernels.output_histogram(_convolve(photo_key, _image, colour, weights, padding))


@st.cache_resource(**_CACHE)
def _shown(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple | None,
           padding: str, display: str) -> object:
    """The input (weights None) or the output as display pixels."""
    y = (_input_tensor(photo_key, _image, colour) if weights is None
         else _convolve(photo_key, _image, colour, weights, padding))
    return kernels.to_display(y, "clip" if weights is None else display)


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def _jpeg(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple | None,
          padding: str, display: str, window: tuple[int, int, int] | None = None) -> bytes:
    """The shown input or output (window outlined, if given) as a small JPEG."""
    pixels = _shown(photo_key, _image, colour, weights, padding, display)
    return figures.photo_jpeg(pixels, window)


@st.cache_resource(max_entries=32, ttl=3600, show_spinner=False)
def _histogram_figure(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
                      padding: str, lang: str) -> PrebuiltFigure:
    hist = _histogram(photo_key, _image, colour, weights, padding)
    with i18n.use_language(lang):  # its axis titles
        return PrebuiltFigure(figures.output_histogram_figure(hist).to_dict())


@st.cache_resource(max_entries=64, ttl=3600, show_spinner=False)
def _inspection(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
                padding: str, row: int, col: int, channel: int) -> kernels.PixelInspection:
    return kernels.inspect_pixel(_input_tensor(photo_key, _image, colour),
                                 torch.tensor(weights), padding, row, col, channel)


@st.cache_resource(**_CACHE)
def _brightness(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
                padding: str) -> kernels.Brightness:
    return kernels.brightness(_input_tensor(photo_key, _image, colour),
                              _convolve(photo_key, _image, colour, weights, padding))


@dataclass(frozen=True)
class OnPhoto:
    """The shared photo in one colour mode, padded one way at its border; each method takes
    the weights conv2d uses (a (k, k) tensor) and answers from the caches."""

    key: tuple
    image: Image.Image = field(compare=False, repr=False)
    colour: kernels.ColourMode
    padding: kernels.PaddingMode

    @classmethod
    def of(cls, photo: images.LoadedImage, colour: kernels.ColourMode,
           padding: kernels.PaddingMode) -> OnPhoto:
        """The photo of this run with the page's colour and padding."""
        return cls(kernels.image_key(photo.image, photo.name), photo.image, colour, padding)

    def input(self) -> torch.Tensor:
        """The photo as a (1, C, H, W) tensor of 0..255 values."""
        return _input_tensor(self.key, self.image, self.colour)

    def output(self, weights: torch.Tensor) -> torch.Tensor:
        """The raw output of conv2d with `weights`, the photo's size."""
        return _convolve(self.key, self.image, self.colour, frozen(weights), self.padding)

    def timed_output(self, weights: torch.Tensor) -> tuple[torch.Tensor, float]:
        """`output` and the seconds it took (about 0 when it was cached)."""
        started = time.perf_counter()
        y = self.output(weights)
        return y, time.perf_counter() - started

    def histogram(self, weights: torch.Tensor) -> kernels.OutputHistogram:
        """The raw output's values, counted."""
        return _histogram(self.key, self.image, self.colour, frozen(weights), self.padding)

    def histogram_figure(self, weights: torch.Tensor) -> PrebuiltFigure:
        """The histogram's figure, in the session's language."""
        return _histogram_figure(self.key, self.image, self.colour, frozen(weights),
                                 self.padding, i18n.language())

    def input_jpeg(self, window: tuple[int, int, int] | None = None) -> bytes:
        """The input as shown, with the (row, col, k) window outlined if given."""
        return _jpeg(self.key, self.image, self.colour, None, self.padding, "clip", window)

    def output_jpeg(self, weights: torch.Tensor, display: kernels.DisplayMode,
                    window: tuple[int, int, int] | None = None) -> bytes:
        """The output shown by `display`, with the (row, col, k) window outlined if given."""
        return _jpeg(self.key, self.image, self.colour, frozen(weights), self.padding, display,
                     window)

    def inspection(self, weights: torch.Tensor, row: int, col: int,
                   channel: int) -> kernels.PixelInspection:
        """The arithmetic of output pixel (row, col) of `channel`, redone by hand."""
        return _inspection(self.key, self.image, self.colour, frozen(weights), self.padding,
                           row, col, channel)

    def brightness(self, weights: torch.Tensor) -> kernels.Brightness:
        """The input's and the output's mean brightness."""
        return _brightness(self.key, self.image, self.colour, frozen(weights), self.padding)


@st.cache_resource(max_entries=64, ttl=3600, show_spinner=False)
def _window_state(inputs: tuple, kernel: tuple, step: int) -> moving_window.WindowState:
    return moving_window.window_state(torch.tensor(inputs), torch.tensor(kernel), step)


def window_state(inputs: torch.Tensor, kernel: torch.Tensor,
                 step: int) -> moving_window.WindowState:
    """The moving window after `step` steps over `inputs`, shared by every session."""
    return _window_state(frozen(inputs), frozen(kernel), step)
