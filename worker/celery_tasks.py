"""The Celery tasks: thin wrappers that run the task bodies in a worker process."""

from __future__ import annotations

from worker import tasks
from worker.app import ANALYSE_NETWORK, RUN_TWO_NEURON_STUDY, TRAIN_JOB, celery_app
from worker.dispatch import run_training
from worker.two_neuron_study import run_two_neuron_study as run_study


@celery_app.task(name=TRAIN_JOB)
def train_job(job_id: int) -> None:
    run_training(job_id)


@celery_app.task(name=ANALYSE_NETWORK)
def analyse_network(network_id: int) -> None:
    tasks.analyse_network(network_id)


@celery_app.task(name=RUN_TWO_NEURON_STUDY)
def run_two_neuron_study(study_id: int) -> None:
    run_study(study_id)
