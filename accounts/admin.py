from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from django.http import HttpRequest

from accounts.models import ApiToken
from accounts.services import validate_username


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created on the profile page or with `manage.py create_api_token`; here they
    can be found and revoked. Only the hash is stored, so no token can be shown."""

    list_display = ["name", "user", "hint", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "user__username", "hint"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "hint", "created_at", "last_used_at"]
    fields = ["user", "name", "hint", "created_at", "last_used_at", "revoked_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _ReservedNameCheck:
    """Refuses the reserved usernames (`accounts.services.validate_username`)."""

    def clean_username(self) -> str:
        username = super().clean_username()  # type: ignore[misc]
        return validate_username(username) if username else username


class ChangeForm(UserChangeForm):
    def clean_username(self) -> str:
        username = self.cleaned_data.get("username")
        return validate_username(username) if username else username


class CreationForm(_ReservedNameCheck, AdminUserCreationForm):
    pass


admin.site.unregister(User)


@admin.register(User)
class ReviewAppUserAdmin(UserAdmin):
    """Django's user admin; a username that is a reserved source id ("default") is refused."""

    form = ChangeForm
    add_form = CreationForm
