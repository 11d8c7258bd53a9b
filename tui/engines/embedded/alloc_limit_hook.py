"""A test hook, and nothing else: out-of-memory loads on a machine without a GPU.

With LCHAT_TEST_GPU_ALLOC_LIMIT_MB set, the engine's child lowers its address-space limit
(RLIMIT_AS, soft) to that many MiB above what it maps now while it loads a model with layers
on the GPU, and restores it after; a load with no GPU layers is not limited. On the CPU build
llama.cpp then fails to allocate exactly as a GPU without room does, so the tests see a real
allocation failure classified and the load retried with fewer layers.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager

VARIABLE = "LCHAT_TEST_GPU_ALLOC_LIMIT_MB"


@contextmanager
def limited_while_offloading(gpu_layers: int) -> Iterator[None]:
    """Within: the address space capped, when the hook is set and layers go to the GPU."""
    extra_mb = os.environ.get(VARIABLE, "")
    if not extra_mb.isdigit() or gpu_layers == 0:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _mapped_bytes() + (int(extra_mb) << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _mapped_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0
