"""Ingestion core: traces, spans and assessments as they arrive, written in bulk.

Every way traces come in (MLflow trace JSON files, OTLP, the MLflow-compatible API) turns what it
receives into small typed records and hands them to one of the writers here:

- `traces.ingest.records`: the records (`TraceRecord`, `SpanRecord`, `SpanEvent`, `SpanBatch`,
  `TokenUsage`) and MLflow's conventions for reading them (JSON-encoded span attributes, status
  codes, token usage, previews), so every entry point reads them the same way;
- `traces.ingest.bulk`: `ingest_traces`, whole traces with their spans and assessments written
  with `bulk_create` inside one transaction (MLflow trace JSON files, `manage.py import_traces`);
- `traces.ingest.incremental`: traces that arrive in pieces, `ingest_spans` (OTLP spans a few at
  a time) and `upsert_trace_info` (a trace's info sent apart from its spans, MLflow's
  StartTraceV3).

Parsing the formats themselves is elsewhere: `traces.mlflow_json`, `traces.otlp`,
`traces.mlflow_api`.
"""
