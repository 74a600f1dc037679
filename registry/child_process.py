"""Child processes that never outlive their parent (launcher children, model processes, test workers)."""
from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM):
    """A `preexec_fn` for subprocess.Popen: once the parent dies (even by SIGKILL), the kernel sends the child
    `sig`. Linux only; elsewhere a no-op."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return preexec
