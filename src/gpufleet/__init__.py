"""gpufleet: one control plane for GPU capacity bought from many suppliers.

See ``docs/ARCHITECTURE.md`` for the layers and where each concept lives.
"""

__version__ = "0.1.0"
