"""CNN Explorer: interactive lessons on convolutional networks, computed live with PyTorch.

The modules of this package are plain Python (no streamlit) so they can be unit-tested and
reused from the command line; `explorer.ui` holds the few helpers the Streamlit pages share.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
