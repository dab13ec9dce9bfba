"""Run a command under a seccomp filter that takes a feature away, like a hardened host does.

    python3 jail.py nomount -- CMD...    # mount(2) and the new mount API refused (EPERM), as
                                         # AppArmor's container profiles do: live mode 3
    python3 jail.py nouserns -- CMD...   # no new user namespaces (unshare/clone with
                                         # CLONE_NEWUSER refused, clone3 ENOSYS), as Docker's
                                         # default seccomp profile does: mode 4 (replay)

Sets no_new_privs (needed to load a filter unprivileged, and what Binder does anyway); the
filter is inherited by every child. Plain ctypes + classic BPF, x86_64 only; no libseccomp.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
CLONE_NEWUSER = 0x10000000
X32_BIT = 0x40000000

# BPF opcodes
LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RET = 0x06  # BPF_RET | BPF_K

# offsets in struct seccomp_data
NR, ARCH, ARG0 = 0, 4, 16

# x86_64 syscall numbers
MOUNT_CALLS = {"mount": 165, "umount2": 166, "pivot_root": 155, "open_tree": 428,
               "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
               "fspick": 433, "mount_setattr": 442}
CLONE, UNSHARE, CLONE3 = 56, 272, 435


def program(profile: str) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions. Pure."""
    deny = (RET, 0, 0, RET_ERRNO | errno.EPERM)
    allow = (RET, 0, 0, RET_ALLOW)
    prog = [(LD_ABS, 0, 0, ARCH), (JEQ, 1, 0, AUDIT_ARCH_X86_64), deny,
            (LD_ABS, 0, 0, NR), (JGE, 0, 1, X32_BIT), deny]  # no x32 side door
    if profile == "nomount":
        for nr in MOUNT_CALLS.values():
            prog += [(JEQ, 0, 1, nr), deny]
    elif profile == "nouserns":
        for nr in (CLONE, UNSHARE):  # flags are the first argument of both
            prog += [(JEQ, 0, 4, nr), (LD_ABS, 0, 0, ARG0), (JSET, 0, 1, CLONE_NEWUSER), deny,
                     allow]
        # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back
        # to clone (checked above).
        prog += [(JEQ, 0, 1, CLONE3), (RET, 0, 0, RET_ERRNO | errno.ENOSYS)]
    else:
        raise SystemExit(f"unknown profile {profile!r} (must be one of ['nomount', 'nouserns'])")
    return [*prog, allow]


def install(profile: str) -> None:
    if platform.machine() != "x86_64":
        raise SystemExit("jail.py: x86_64 only")
    insns = program(profile)
    buf = b"".join(struct.pack("HBBI", *i) for i in insns)
    filt = ctypes.create_string_buffer(buf, len(buf))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(insns), ctypes.addressof(filt))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(SECCOMP)")


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        raise SystemExit(__doc__)
    install(args[0])
    os.execvp(args[2], args[2:])


if __name__ == "__main__":
    main()
