"""`python -m deploy build|install|rollback ...`: the release tool (deploy/release.py)."""

import sys

from deploy.release import main

sys.exit(main())
