"""Jobs, their events and statuses, and the errors the domain raises. No Azure, no FastAPI."""
