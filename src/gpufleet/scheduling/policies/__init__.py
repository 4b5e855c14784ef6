"""Job-scheduling policies, one file each, registered by name (``scheduling.core.register``)."""

from gpufleet.scheduling.policies import gavel_policies, min_jct

__all__ = ["gavel_policies", "min_jct"]
