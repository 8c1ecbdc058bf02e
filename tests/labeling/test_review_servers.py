"""Two separate app server processes (gunicorn) share one database; twenty labelers work the
same session over HTTP, half through each server, half of them the HTMX way. No item gets more
labels than the session asks for, and reservations that ran out are handed out again.

On PostgreSQL the servers use the test database; on SQLite (whose in-memory test database other
processes cannot open) they use a database file made for the test, where the writers of both
processes queue behind BEGIN IMMEDIATE and the busy timeout.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import close_old_connections, connection

from bench import review_load
from tests.conftest import on_postgres

ROOT = Path(__file__).resolve().parents[2]
LABELERS = 20

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "STATIC_MANIFEST": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def app_servers(database_url: str, count: int = 2) -> Iterator[list[str]]:
    """`count` gunicorn processes (4 threads each) on free ports; their base URLs."""
    processes: list[subprocess.Popen] = []
    urls = []
    try:
        for _ in range(count):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "reviewapp.wsgi",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        "1",
                        "--worker-class",
                        "gthread",
                        "--threads",
                        "4",
                        "--log-level",
                        "warning",
                    ],
                    cwd=ROOT,
                    env=server_env(database_url),
                    stdout=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for url, process in zip(urls, processes, strict=True):
            while True:
                assert process.poll() is None, "the app server exited"
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"{url} did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Database:
    """Where the servers' data lives, and how this test reaches it: the test database itself
    on PostgreSQL; a database file driven through `manage.py shell` on SQLite."""

    def __init__(self, tmp_path: Path) -> None:
        if on_postgres():
            params = connection.settings_dict
            self.url = (
                f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:"
                f"{params['PORT'] or 5432}/{params['NAME']}"
            )
            close_old_connections()
        else:
            self.url = f"sqlite:///{tmp_path / 'servers.sqlite3'}"
            self._manage("migrate", "--no-input", "-v", "0")

    def _manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=server_env(self.url),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def call(self, function: str, **kwargs) -> object:
        """`<module>.<function>(**kwargs)` run against the servers' database (module: bench's
        review_load, or this test module for names it defines)."""
        module = (
            "tests.labeling.test_review_servers" if function in globals() else "bench.review_load"
        )
        if on_postgres():
            target = (
                globals()[function] if function in globals() else getattr(review_load, function)
            )
            value = target(**kwargs)
            connection.close()
            return value
        code = (
            "import json, sys, django; django.setup(); import importlib; "
            f"value = getattr(importlib.import_module({module!r}), {function!r})"
            "(**json.loads(sys.argv[1])); "
            "print(json.dumps(getattr(value, '__dict__', value), default=vars))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, json.dumps(kwargs)],
            cwd=ROOT,
            env={**server_env(self.url), "DJANGO_SETTINGS_MODULE": "reviewapp.settings"},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.splitlines()[-1])


def campaign_from(value) -> review_load.Campaign:
    if isinstance(value, review_load.Campaign):
        return value
    value["questions"] = [review_load.Question(**q) for q in value["questions"]]
    return review_load.Campaign(**value)


def run_labelers(urls: list[str], campaign: review_load.Campaign, usernames: list[str]) -> int:
    """Every labeler works until nothing is left, spread over the servers; returns the count
    of submissions."""
    timings = review_load.Timings()
    errors: list[BaseException] = []
    counts: list[int] = []
    barrier = threading.Barrier(len(usernames))

    def run(index: int, username: str) -> None:
        labeler = review_load.HttpLabeler(
            urls[index % len(urls)], campaign.cookies[username], campaign.csrf_token,
            campaign.session_id,
        )  # fmt: skip
        try:
            barrier.wait(timeout=30)
            counts.append(
                review_load.work_queue(
                    labeler,
                    campaign,
                    timings=timings,
                    deadline=time.monotonic() + 240,
                    htmx=index % 4 < 2,
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            labeler.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(usernames)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]
    return sum(counts)


def expire_leases(session_id: int) -> int:
    from django.utils import timezone

    from labeling.models import Assignment, Item
    from labeling.services import recount_item_slots

    expired = Assignment.objects.filter(item__session_id=session_id, state="claimed").update(
        lease_expires_at=timezone.now()
    )
    recount_item_slots(items=Item.objects.filter(session_id=session_id))
    return expired


@pytest.mark.parametrize("labels_per_item", [1, 2])
def test_two_app_servers_never_hand_out_more_than_the_slots(tmp_path, labels_per_item):
    database = Database(tmp_path)
    items = 40
    campaign = campaign_from(
        database.call(
            "create_campaign", labelers=LABELERS, items=items, labels_per_item=labels_per_item
        )
    )
    usernames = sorted(campaign.cookies)
    with app_servers(database.url) as urls:
        submitted = run_labelers(urls, campaign, usernames)
    results = database.call("campaign_results", session_id=campaign.session_id)
    assert submitted == items * labels_per_item
    assert results == {
        "items": items,
        "complete": items,
        "submitted": items * labels_per_item,
        "answers": items * labels_per_item * 3,
        "over_labeled": 0,
        "max_labels_on_an_item": labels_per_item,
    }


def test_two_app_servers_reissue_expired_reservations(tmp_path):
    database = Database(tmp_path)
    items = LABELERS // 2
    campaign = campaign_from(
        database.call("create_campaign", labelers=LABELERS, items=items, labels_per_item=1)
    )
    usernames = sorted(campaign.cookies)
    walkers, workers = usernames[:items], usernames[items:]
    with app_servers(database.url) as urls:
        # Half of the labelers reserve every item between them, then walk away.
        reserved = []
        for index, username in enumerate(walkers):
            labeler = review_load.HttpLabeler(
                urls[index % 2], campaign.cookies[username], campaign.csrf_token,
                campaign.session_id,
            )  # fmt: skip
            reserved.append((labeler, labeler.claim()))
        assert None not in [path for _, path in reserved]
        assert len({path for _, path in reserved}) == items
        # While they hold them, the others find nothing.
        assert run_labelers(urls, campaign, workers) == 0
        database.call("expire_leases", session_id=campaign.session_id)
        # Their reservations ran out: the others label every item, once.
        assert run_labelers(urls, campaign, workers) == items
        # The walkers come back too late: the page tells them, nothing is stored twice.
        for labeler, path in reserved:
            status, _, body = labeler.request(
                "POST", path + "submit/", campaign.answers(random.Random(1))
            )
            assert status == 200
            assert b"other labelers have taken it" in body
            labeler.close()
    results = database.call("campaign_results", session_id=campaign.session_id)
    assert results["submitted"] == items
    assert results["over_labeled"] == 0
    assert results["answers"] == items * 3


def lead_cookie(session_id: int) -> str:
    """A signed-in browser session of a new curator (for the campaign pages)."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User

    user = User.objects.create(username=f"lead-{session_id}-{time.time_ns()}", is_staff=True)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def test_results_are_current_in_every_server_process(tmp_path):
    """A labeler submits through one app server while a campaign lead reads the agreement page
    and the disagreements page through the other (and the first): every read, in either
    process, counts every answer submitted before it. Nothing is cached per process."""
    import re

    database = Database(tmp_path)
    campaign = campaign_from(
        database.call("create_campaign", labelers=2, items=6, labels_per_item=2)
    )
    lead = database.call("lead_cookie", session_id=campaign.session_id)
    first, second = sorted(campaign.cookies)
    labeled = re.compile(r"<code>correct</code> · [^<]* · (\d+) items? labeled")
    to_settle = re.compile(r"<strong>(\d+)</strong> <span>to settle</span>")
    with app_servers(database.url) as urls:
        readers = [
            review_load.HttpLabeler(url, lead, campaign.csrf_token, campaign.session_id)
            for url in urls
        ]
        agreement = f"/campaigns/{campaign.session_id}/agreement/"
        disagreements = f"/campaigns/{campaign.session_id}/disagreements/"
        for reader in readers:  # each process has read the pages before any answer
            assert reader.request("GET", agreement)[0] == 200
            assert reader.request("GET", disagreements)[0] == 200
        submitted = 0
        for who, answer in ((first, "true"), (second, "false")):
            writer = review_load.HttpLabeler(
                urls[submitted % 2], campaign.cookies[who], campaign.csrf_token,
                campaign.session_id,
            )  # fmt: skip
            path = writer.claim()
            while path is not None:
                answers = {q.field: q.choices[0] for q in campaign.questions}
                answers[campaign.questions[0].field] = answer
                path = writer.submit_and_next(path, answers)
                submitted += 1
                for reader in readers:
                    status, _, body = reader.request("GET", agreement)
                    assert status == 200
                    assert int(labeled.search(body.decode()).group(1)) == min(submitted, 6)
                    status, _, body = reader.request("GET", disagreements)
                    # The second labeler answers "correct" the other way: each of their
                    # submits is one more disagreement, at once, in both processes.
                    assert int(to_settle.search(body.decode()).group(1)) == max(0, submitted - 6)
            writer.close()
        for reader in readers:
            reader.close()
    assert submitted == 12
