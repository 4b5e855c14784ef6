"""The ``gpufleet`` command (Typer). Commands parse arguments, call one catalog or service
function, and render; they hold no business rules."""
