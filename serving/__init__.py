"""Web glue shared by every service and the monolith: settings, errors to HTTP, health, metrics."""
