import sys

from djbench.cli import main

sys.exit(main())
