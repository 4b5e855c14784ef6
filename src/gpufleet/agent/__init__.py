"""Node agent: GPU discovery and telemetry, job runner, acceptance test. Built in a later issue."""
