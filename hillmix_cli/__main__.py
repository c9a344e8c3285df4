"""``python -m hillmix_cli``: the ``hillmix`` command."""

import sys

from hillmix_cli import main

if __name__ == "__main__":
    sys.exit(main())
