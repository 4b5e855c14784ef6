"""Use cases of the control plane. Each public function is one short unit of work on the
database (``Database.transaction``), takes ``now`` from its caller and returns API schemas or
domain values — rows never leave a service."""
