"""Acceptance tests of delivered GPUs, on the agent's side (``docs/api.md``, issue 7).

* ``run`` — one test: burn the GPUs in (``agent.burn_in``, or a fake source's simulation),
  watch the source meanwhile, return one ``GpuCheck`` per GPU;
* ``worker`` — the agent's background thread: once per test id, never two at once;
* ``command`` — ``python -m gpufleet.agent.acceptance`` / ``gpufleet acceptance``: the same test
  on this machine, judged against the GPU table (``domain.acceptance.judge``).

Nothing here imports the server's dependencies: the command runs on GPU machines that have only
the agent's. (This file imports nothing, so each part loads only what it needs.)
"""
