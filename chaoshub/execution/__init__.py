"""Execution (DESIGN.md §6): the run driver, the Celery app and tasks, the reconciler."""
