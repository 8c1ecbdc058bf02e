"""bench/compare_review_load.py reads the figures bench/review_load.py prints."""

from bench.compare_review_load import Run, database_url

OUTPUT = """\
Settings: gunicorn, 4 workers (sync), DEBUG off; database postgresql review_cmp_head; …

request                   count    req/s   p50 ms   p95 ms   p99 ms   max ms
claim (POST next)           10      0.9    240.9    964.0    964.0    964.0
item page (GET)             10      0.9    259.4    308.6    308.6    308.6
submit & next (POST)        91      8.3     19.1     40.3     58.5     62.9

all requests: 111 in 10.9 s = 10.2 req/s; items submitted: 91; errors: 0; load average now 1.2
server CPU (gunicorn processes): 2.7 s = 24.5 ms per request, 0.25 of 2 CPUs
database: {'items': 5000, 'complete': 91, 'over_labeled': 0}
"""


def test_run_reads_the_submit_row_the_request_rate_and_the_server_cpu():
    run = Run(side="head", round=1, output=OUTPUT.splitlines())
    run.parse()
    assert (run.submits, run.p50, run.p95, run.p99) == (91, 19.1, 40.3, 58.5)
    assert run.requests_per_second == 10.2
    assert run.cpu_ms_per_request == 24.5


def test_run_without_figures_leaves_them_unset():
    run = Run(side="base", round=2, output=["gunicorn exited with status 3"])
    run.parse()
    assert run.submits is None and run.cpu_ms_per_request is None


def test_database_url_names_the_database_on_the_same_server():
    server = "postgres://postgres@127.0.0.1:5432"
    assert database_url(server, "review_cmp_base") == f"{server}/review_cmp_base"
    assert database_url(server + "/test", "postgres") == f"{server}/postgres"
