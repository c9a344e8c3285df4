"""``python -m hillmix``: the command line, which lives above all three packages."""

import sys

from hillmix_cli import main

if __name__ == "__main__":
    sys.exit(main())
