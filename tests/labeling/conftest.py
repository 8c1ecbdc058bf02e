"""Fixtures shared by the labeling tests (re-exported so test modules need no imports)."""

from tests.labeling.campaign_fixtures import campaign  # noqa: F401
