"""Trace readers: each turns a public cluster trace into gpufleet's request and node types."""
