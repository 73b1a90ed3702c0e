import sys

from argyro_run.cli import main

sys.exit(main())
