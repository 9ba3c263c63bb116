"""One rank of the collective test: all-reduce a tensor with torch.distributed, check the sum, time it.

Runs in its own process (`python -c`, the text joined by `payload_source`), told
its rank and the test by environment variables, and prints one `RANK_MARKER`
line of JSON on stdout.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .markers import RANK_MARKER


def all_reduce_rank() -> dict[str, Any]:
    """This rank's result: the sum it saw, how many elements were wrong, the bus bandwidth."""
    import torch  # the framework under test
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    backend, numel = os.environ["DLDOCTOR_SMOKE_BACKEND"], int(os.environ["DLDOCTOR_SMOKE_NUMEL"])
    result: dict[str, Any] = {"rank": rank}
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
            dev = torch.device("cuda", rank)
        else:
            dev = torch.device("cpu")
        dist.init_process_group(backend, rank=rank, world_size=world)
        x = torch.full((numel,), float(rank + 1), dtype=torch.float32, device=dev)
        dist.all_reduce(x)
        if backend == "nccl":
            torch.cuda.synchronize()
        expected = world * (world + 1) / 2
        wrong = int((x != expected).sum())
        result.update(expected=expected, wrong=wrong, first=float(x[0]))
        dist.barrier()
        start = time.perf_counter()
        iters = 5
        for _ in range(iters):
            dist.all_reduce(x)
        if backend == "nccl":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / iters
        nbytes = numel * 4
        result.update(seconds=seconds, bytes=nbytes,
                      busbw_gbs=2 * (world - 1) / world * nbytes / seconds / 1e9)
        dist.destroy_process_group()
    except Exception as exc:  # noqa: BLE001  (a failed rank is reported, never a crash)
        result["error"] = f"{type(exc).__name__}: {exc}"[:600]
    return result


if __name__ == "__main__":
    print(RANK_MARKER + json.dumps(all_reduce_rank()), flush=True)
