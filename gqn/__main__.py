import sys

from gqn.cli import main

sys.exit(main())
