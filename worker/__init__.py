"""Celery app and task functions: orchestration only, the science lives in atlas/."""
