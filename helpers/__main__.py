"""`python -m helpers ...`: the course's command line (helpers/course/cli.py)."""

import sys

from .course.cli import main

if __name__ == "__main__":
    sys.exit(main())
