"""The colour scales the figures share: perceptually uniform and safe for colour-blind eyes.

Magnitudes (a feature map's activations, counts) use viridis or cividis; signed values (a
kernel's weights, a normalised tensor, BatchNorm's outputs) run from blue below 0 through
white at 0 to orange above: a pair that red–green colour blindness (8% of boys) keeps apart,
where red against green, or red–blue through grey, would not be told apart by every student.
"""

from __future__ import annotations

MAGNITUDE = "Viridis"
#: Blue < 0 < orange (ColorBrewer's Blues and Oranges, light at the middle); a plotly colour
#: scale, centred on 0 by the figure's zmid or symmetric range.
SIGNED = [[0.0, "#08519c"], [0.25, "#6baed6"], [0.5, "#f7f7f7"], [0.75, "#fd8d3c"],
          [1.0, "#a63603"]]
SIGNED_NAME = "BlueOrange"  # its name among the feature maps' colour scales (and in links)

#: Lines and bars told apart by colour: Okabe and Ito's palette for colour-blind eyes (its
#: yellow left out, too pale on white), in an order where neighbours differ in lightness too.
CATEGORICAL = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#000000")
#: ...and never by colour alone: each series also gets its own marker (a second series drawn
#: with the same symbol open, e.g. training images beside test images).
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross")
#: For lines with too many points for markers.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid")
#: A right answer and a wrong one: bluish green and vermillion, which colour-blind eyes keep
#: apart by lightness; the bars also say ✓ or ✗.
RIGHT, WRONG = "#009e73", "#d55e00"


def series_style(i: int) -> tuple[str, str, str]:
    """(colour, marker symbol, line dash) of the `i`-th series of a chart."""
    return (CATEGORICAL[i % len(CATEGORICAL)], SYMBOLS[i % len(SYMBOLS)],
            DASHES[i % len(DASHES)])
