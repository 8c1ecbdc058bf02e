"""`manage.py create_api_token USERNAME [--name NAME]`: print a new API token, once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import create_api_token


class Command(BaseCommand):
    help = (
        "Create an API token for a curator and print it. The token is shown only this once; "
        "only its hash is stored. Send it as 'Authorization: Bearer <token>' (OTLP exporters) "
        "or set MLFLOW_TRACKING_TOKEN (MLflow SDK)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The user the token acts as (a curator).")
        parser.add_argument(
            "--name", default="command line", help="What the token is for (default: %(default)s)."
        )

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(f"No user is called {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive: an API token would not work.")
        if not user.is_staff:
            raise CommandError(
                f"User {username!r} is not a curator (staff): only curators can use the API. "
                "Make them staff in the admin first."
            )
        try:
            token, raw = create_api_token(user=user, name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        # The token alone on stdout, so scripts can capture it; the rest on stderr.
        self.stderr.write(f"API token “{token.name}” for {username} (shown only once):")
        self.stdout.write(raw)
