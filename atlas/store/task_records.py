"""Task rows: created the first time a task is used, so references to it always resolve."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atlas.store.models import TaskRecord
from atlas.tasks import Task, get_task


def ensure_task(session: Session, task: Task) -> TaskRecord:
    """The row for `task`'s name, inserting it (race-safe) with the default parameters."""
    record = session.get(TaskRecord, task.name)
    if record is not None:
        return record
    default = get_task(task.name).describe()
    record = TaskRecord(
        name=task.name,
        long_name=default["long_name"],
        kind=default["kind"],
        description=default["description"],
        parameters=default["parameters"],
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        record = session.get(TaskRecord, task.name)
        if record is None:
            raise
    return record
