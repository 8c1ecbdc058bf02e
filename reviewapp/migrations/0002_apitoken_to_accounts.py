"""API tokens moved to the `accounts` app: the table is renamed (its rows stay), and the model
leaves this app's state; `accounts.0001_initial` takes it up."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="apitoken", table="accounts_apitoken"),
            ],
            state_operations=[migrations.DeleteModel(name="ApiToken")],
        ),
    ]
