from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reviewapp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Token-authenticated API: /v1/traces (OTLP), /version, /api/{2.0,3.0}/mlflow/… (MLflow).
    path("", include("traces.api_urls")),
    path("", include("traces.urls")),
    path("console/", include("labeling.console_urls")),
    path("review/", include("labeling.review_urls")),
]
