"""Run a command the way MemoryDenyWriteExecute=yes runs a service: no memory mapping may be
writable and executable, and none may become executable (prctl PR_SET_MDWE, Linux 6.3+,
inherited by every child). Exit 97 when the kernel cannot do it.

    python tests/deploy/mdwe.py /path/to/program args...
"""

import ctypes
import os
import sys

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
CANNOT = 97

if __name__ == "__main__":
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        print(f"prctl(PR_SET_MDWE) failed: errno {ctypes.get_errno()}", file=sys.stderr)
        sys.exit(CANNOT)
    os.execv(sys.argv[1], sys.argv[1:])
