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
