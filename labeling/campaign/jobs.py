"""A campaign's long work as background jobs (`django.tasks`, run by `manage.py db_worker` with
the `django-tasks-db` backend): bulk accept of unanimous answers.

A job is a `labeling.models.Job` row that the page watches and a task that does the work. The
task commits batch by batch, and each batch's progress in the batch's own transaction, so a
job's `done` always counts work that is applied. When a worker dies mid-job, the job stops
reporting and its page says so (`Job.lost`); starting the job again carries on with what is
left (the work skips what is already done), so nothing is applied twice or half.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.tasks import task
from django.utils import timezone

from labeling.campaign import adjudication
from labeling.models import Job, JobState, LabelingSession

ACCEPT_UNANIMOUS = "accept_unanimous"
# Items per transaction (and per progress step).
BATCH_SIZE = adjudication.BULK_BATCH_SIZE


def start_accept_unanimous(*, session: LabelingSession, user: User) -> Job:
    """A new bulk-accept job for `session`, queued for the worker (or the session's job that
    is still going: one at a time)."""
    running = Job.objects.filter(
        session=session, kind=ACCEPT_UNANIMOUS, state__in=[JobState.QUEUED, JobState.RUNNING]
    ).first()
    if running is not None and not running.lost:
        return running
    job = Job.objects.create(
        kind=ACCEPT_UNANIMOUS,
        session=session,
        created_by=user,
        total=adjudication.count_unanimous(session).items,
    )
    result = accept_unanimous_task.enqueue(job.pk)
    Job.objects.filter(pk=job.pk).update(task_id=str(result.id))
    job.refresh_from_db()
    return job


def _report(job: Job, **changes) -> None:
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now(), **changes)


@task()
def accept_unanimous_task(job_id: int) -> dict[str, int]:
    """Bulk accept, one batch of items per transaction (with its progress)."""
    job = Job.objects.select_related("session", "created_by").get(pk=job_id)
    if job.state == JobState.DONE:
        return job.result
    _report(job, state=JobState.RUNNING, message="")
    items = answers = 0
    last: int | None = 0
    try:
        while last is not None:
            with transaction.atomic():
                # Read and settle each batch under the session's lock, as one settle does.
                adjudication.lock_session(job.session)
                batch, last = adjudication.unanimous_batch(
                    job.session, after=last, batch_size=BATCH_SIZE
                )
                done = adjudication.accept_batch(
                    session=job.session, adjudicator=job.created_by, batch=batch
                )
                _report(job, done=F("done") + done.items)
            items += done.items
            answers += done.answers
    except Exception as error:
        _report(
            job,
            state=JobState.FAILED,
            message=f"Stopped after {items:,} items: {error}",
            finished_at=timezone.now(),
        )
        raise
    result = {"items": items, "answers": answers}
    _report(job, state=JobState.DONE, result=result, finished_at=timezone.now())
    return result
