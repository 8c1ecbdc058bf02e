# Indexes of the trace explorer (issue 3), PostgreSQL only (SQLite has neither GIN indexes nor
# NULLS LAST in index definitions; there these operations do nothing):
#
# - trigram GIN indexes for the search over request / response previews; the expressions match
#   what `icontains` sends: UPPER(column) LIKE UPPER(%s);
# - a GIN index on trace tags for the tag filter (`@>` and `?`);
# - the trace list's "slowest first": (experiment, duration DESC NULLS LAST, id DESC).

from django.db import migrations

PG_INDEXES = {
    "trace_request_preview_trgm": (
        "CREATE INDEX IF NOT EXISTS trace_request_preview_trgm ON traces_trace "
        "USING gin (UPPER(request_preview) gin_trgm_ops)"
    ),
    "trace_response_preview_trgm": (
        "CREATE INDEX IF NOT EXISTS trace_response_preview_trgm ON traces_trace "
        "USING gin (UPPER(response_preview) gin_trgm_ops)"
    ),
    "trace_tags_gin": "CREATE INDEX IF NOT EXISTS trace_tags_gin ON traces_trace USING gin (tags)",
    "trace_exp_slowest_idx": (
        "CREATE INDEX IF NOT EXISTS trace_exp_slowest_idx ON traces_trace "
        "(experiment_id, execution_duration DESC NULLS LAST, id DESC)"
    ),
}


def create_postgres_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for sql in PG_INDEXES.values():
        schema_editor.execute(sql)


def drop_postgres_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in PG_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("traces", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_postgres_indexes, drop_postgres_indexes, elidable=False),
    ]
