from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from monitoring.views import metrics
from oncall import views
from oncall.sso import views as sso_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", sso_views.LoginView.as_view(), name="login"),
    path("accounts/oidc/", include("oncall.sso.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/login/", sso_views.admin_login),  # before the admin: PASSWORD_LOGIN=0 closes it
    path("admin/", admin.site.urls),
    path("notifications/", include("notifications.urls")),
    path("api/v1/", include("oncall.api_urls")),
    path("", include("integrations.urls")),
    path("incidents/", include("incidents.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("playbooks/", include("playbooks.urls")),
    path("reports/", include("reports.urls")),
    path("insights/", include("insights.urls")),
    path("audit/", include("audit.urls")),
    path("", include("rotations.urls")),
]
