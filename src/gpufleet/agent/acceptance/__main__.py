"""``python -m gpufleet.agent.acceptance``: see ``command``."""

from gpufleet.agent.acceptance.command import main

main()
