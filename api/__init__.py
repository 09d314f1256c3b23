"""The FastAPI REST API over the atlas."""
