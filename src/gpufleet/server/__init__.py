"""The control plane: a FastAPI app over a database, with the scheduler and node-loss loops.

``create_app(settings)`` (``app.py``) is the entry point. Routers (``routers/``) parse and call
one service function; services (``services/``) hold the use cases and business rules; rows and
migrations live in ``db/``; ``loops.py`` drives the scheduler tick and the node-loss check; all
of it reads the wall clock only through ``clock.py``. The contract is ``docs/api.md``.
"""
