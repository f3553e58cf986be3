from django.contrib.auth.decorators import login_not_required
from django.urls import path

from oncall.sso import views

# The names are mozilla-django-oidc's (its views reverse the callback by this name).
urlpatterns = [
    path(
        "authenticate/",
        login_not_required(views.SsoStart.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "callback/",
        login_not_required(views.SsoCallback.as_view()),
        name="oidc_authentication_callback",
    ),
]
