from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from reviewapp import views

handler400 = "reviewapp.views.bad_request"
handler403 = "reviewapp.views.permission_denied"
handler404 = "reviewapp.views.page_not_found"
handler500 = "reviewapp.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    # API tokens moved from this package to `accounts`: their admin pages followed.
    re_path(
        r"^admin/reviewapp/apitoken/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/accounts/apitoken/%(rest)s", query_string=True),
    ),
    path("admin/", admin.site.urls),
    # Token-authenticated API: /v1/traces (OTLP), /version, /api/{2.0,3.0}/mlflow/… (MLflow);
    # labeling's routes first, since traces' end with the catch-all for unknown /api/ paths.
    path("", include("labeling.api.urls")),
    path("", include("labeling.campaign.api_urls")),
    path("", include("traces.api_urls")),
    path("", include("explorer.urls")),
    # Before the console include: the upload page lives under /console/ but in traces.
    path("console/import/", include("traces.urls")),
    path("console/", include("labeling.console.urls")),
    path("review/", include("labeling.review.urls")),
    path("campaigns/", include("labeling.campaign.urls")),
]
