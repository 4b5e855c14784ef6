"""Control plane: FastAPI app, services, database, scheduler loop, dashboard. Built in issue 6."""
