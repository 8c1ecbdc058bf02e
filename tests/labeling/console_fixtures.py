"""A small world for the console tests: one experiment with a schema, a session with two items
and two labelers, and a second experiment (for "another experiment's object" checks)."""

from types import SimpleNamespace

from tests.factories import make_experiment, make_schema, make_session, make_trace


def build_world(*labelers) -> SimpleNamespace:
    experiment = make_experiment("support-bot")
    other_experiment = make_experiment("sql-agent")
    traces = [make_trace(experiment) for _ in range(3)]
    schema = make_schema(experiment, "correct")
    other_schema = make_schema(other_experiment, "valid_sql")
    session = make_session(experiment, schemas=[schema], labelers=labelers, traces=traces[:2])
    other_session = make_session(other_experiment, schemas=[other_schema])
    return SimpleNamespace(
        experiment=experiment,
        other_experiment=other_experiment,
        traces=traces,
        schema=schema,
        other_schema=other_schema,
        session=session,
        other_session=other_session,
        item=session.items.order_by("position").first(),
        labeler=labelers[0] if labelers else None,
    )
