"""Device memory as torch sees it, and the budget vLLM gives the KV cache, per release.

**Torch-visible memory.** ``torch.npu.mem_get_info()`` reports less than the HBM on the
label: a 64 GB 910B shows 60.96 GiB (the driver and firmware keep the rest). vLLM computes
its budget from that figure, so the plan does too.

**vLLM's budget** (what the release's worker computes; both are one formula for the plan):

* vllm-ascend 0.11.0rc0 … 0.13.0, ``NPUWorker.determine_available_memory``
  (vllm-ascend==0.11.0rc0 vllm_ascend/worker/worker_v1.py:197-237, vllm-ascend==0.13.0
  vllm_ascend/worker/worker.py:270-311): ``KV = total × gpu_memory_utilization − peak``,
  where ``peak`` is torch's allocated peak during the profile run (the weights plus the
  activations of one max_num_batched_tokens step) plus what is allocated outside torch
  (ACL context, HCCL buffers) when positive. It logs ``Available memory: <bytes>, total
  memory: <bytes>``.
* vllm-ascend 0.18.0, 0.23.0.post1: at start ``free < total × utilization`` is a
  ValueError ("Free memory on device … is less than desired", vllm-ascend==0.18.0
  vllm_ascend/worker/worker.py:266-278); then ``KV = total × utilization − (weights +
  peak activation + non-torch increase)`` (vllm-ascend==0.18.0 worker.py:327-361 with
  vllm==0.18.0 vllm/utils/mem_utils.py:273-281; 0.23 also subtracts the NPU-graph memory,
  vllm-ascend==0.23.0.post1 worker.py:743-748), logged as ``Available KV cache memory:
  <x> GiB``.

So per NPU: ``budget = torch_total × utilization``; ``non-KV = weights as loaded +
activation peak + non-torch`` and the KV cache gets the rest. The weights as loaded are
what the release logs as ``Loading model weights took <x> GB``: torch's allocated bytes
after the load minus before, divided by 2**30 (so GiB, whatever the label says;
vllm-ascend==0.11.0rc0 vllm_ascend/worker/model_runner_v1.py:2629-2662 with
vllm_ascend/platform.py:339-343, ``torch.npu.max_memory_allocated`` after a peak reset;
vllm-ascend==0.18.0 model_runner_v1.py:2564-2592 with platform.py:611-613). Temporaries of
the load are freed before it is read, so only what stays counts: the checkpoint's tensors as
sharded plus the profile's ``memory`` items (:func:`dsprep.launch.plan.load_items`).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class DeviceMemory:
    """One NPU kind: its HBM (npu-smi's ``HBM-Usage(MB)`` total, 65536 MB on a 64 GB
    910B) and what torch reports as total, with the source of the latter."""

    kind: str
    label_bytes: int
    torch_total_bytes: int
    source: str


_64GB_TOTAL = int(60.96 * GIB)
_64GB_SOURCE = (
    '"60.96 GiB total capacity" in torch_npu\'s OOM message on 64 GB 910B NPUs: '
    "https://github.com/vllm-project/vllm-ascend/issues/2378 (910B2, 16 NPUs), "
    "https://github.com/vllm-project/vllm-ascend/issues/1127, "
    "https://github.com/vllm-project/vllm-ascend/issues/1670 (60.97 GiB in some reports, "
    "e.g. vllm-ascend#19; the lower figure is kept)"
)
DEVICES: dict[str, DeviceMemory] = {
    kind: DeviceMemory(kind, 64 * GIB, _64GB_TOTAL, _64GB_SOURCE)
    for kind in ("910B", "910B1", "910B2", "910B3")
}
DEVICES["910B4"] = DeviceMemory(
    "910B4",
    32 * GIB,
    int(_64GB_TOTAL / 2),
    "estimate: no public report of the 910B4's torch total was found; half the 64 GB kinds' "
    "60.96 GiB (run `dsprep plan --from-log` on a 910B4 log to replace it)",
)

# Activation peak of the profile run plus non-torch memory (HCCL buffers, ACL context): an
# estimate until a log gives the release's own figure (`dsprep plan --from-log`).
RUNTIME_RESERVE = 4 * GIB
# HCCL's own buffers are part of the non-torch memory: "Each communicator occupies 2 ×
# HCCL_BUFFSIZE memory" (MB, default 200), CANN's HCCL_BUFFSIZE reference:
# https://www.hiascend.com/document/detail/en/canncommercial/800/apiref/envvar/envref_07_0080.html
HCCL_BUFFSIZE_DEFAULT_MB = 200


def hccl_bytes_per_communicator(buffsize_mb: str | None) -> int:
    """2 × HCCL_BUFFSIZE (MB) in bytes; the default when unset or not an integer."""
    value = (buffsize_mb or "").strip()
    size = int(value) if value.isdigit() and int(value) >= 1 else HCCL_BUFFSIZE_DEFAULT_MB
    return 2 * size * 1024**2
