"""SESSION_ENGINE: Django's database sessions, read in one small SQL statement.

Every request reads its session; the ORM builds that `SELECT` in more CPU time than the database
needs to run it. Same table, same data, same rules as `django.contrib.sessions.backends.db`
(an expired or unknown session reads as empty and gets a new key when saved)."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DBStore):
    def load(self) -> dict[str, Any]:
        key = self.session_key
        if key is None:
            self._session_key = None
            return {}
        model = self.model
        db = router.db_for_read(model)
        connection = connections[db]
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",
                [key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])
