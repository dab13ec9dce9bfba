"""`python3 -m labkit.probe [--raw | --serve]` inside the lab."""

import sys

from labkit.probe.serve import main

sys.exit(main())
