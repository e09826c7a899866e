"""``python -m eol``: the EOL tester."""
import sys

from .cli import main

sys.exit(main())
