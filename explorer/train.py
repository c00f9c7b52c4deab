"""`python -m explorer.train`: the training command line (see `explorer.training.cli`).

Kept at this name so the documented command, and `torchrun -m explorer.train`, never change.
"""

import sys

from explorer.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
