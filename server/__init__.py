"""The FastAPI server: settings, database, model registry, upload checks and the JSON API."""
