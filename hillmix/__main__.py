"""``python -m hillmix`` names the command line, which the base package does not import."""

import sys

if __name__ == "__main__":
    sys.stderr.write(
        "The hillmix command line is `hillmix` (or `python -m hillmix_cli`); "
        "for example: hillmix demo --help\n"
    )
    sys.exit(2)
