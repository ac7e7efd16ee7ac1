import sys

from mlnb.cli import main

sys.exit(main())
