from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reviewapp import views
from traces import import_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/tokens/", views.token_create, name="token-create"),
    path("accounts/profile/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("admin/", admin.site.urls),
    # Token-authenticated API: /v1/traces (OTLP), /version, /api/{2.0,3.0}/mlflow/… (MLflow).
    path("", include("traces.api_urls")),
    path("", include("traces.urls")),
    # Before the console include: the upload page lives under /console/ but in traces.
    path("console/import/", import_views.import_traces, name="trace-import"),
    path("console/", include("labeling.console_urls")),
    path("review/", include("labeling.review_urls")),
    path("campaigns/", include("labeling.campaign_urls")),
]
