"""`python tests/rss_probe.py REPORT -m tui ARGS...`: runs lchat as `python -m tui ARGS` would and,
as it exits, writes its peak resident memory (VmHWM, in kB) to REPORT.

ru_maxrss (from wait4 or getrusage) cannot measure a child of a test: exec carries the parent's
high-water mark over (a pytest worker's hundreds of MB), while VmHWM belongs to the child's own
memory map, which exec makes new.
"""

from __future__ import annotations

import atexit
import runpy
import sys


def peak_kb() -> int:
    """This process's peak resident memory so far, in kB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main() -> None:
    report, flag, module, *args = sys.argv[1:]
    assert flag == "-m", "usage: rss_probe.py REPORT -m MODULE ARGS..."
    atexit.register(lambda: open(report, "w").write(str(peak_kb())))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
