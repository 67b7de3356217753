"""`python -m lab`: see lab/cli.py."""
import sys

from .cli import main

sys.exit(main())
