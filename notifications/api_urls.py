"""Contact method API routes (included by oncall/api_urls.py, namespace "api")."""

from django.urls import URLPattern, URLResolver, path

from notifications import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("contact-methods/", api.ContactMethodListApi.as_view(), name="contact-method-list"),
    path("contact-methods/untested/", api.UntestedApi.as_view(), name="contact-methods-untested"),
    path(
        "contact-methods/<int:method_id>/test/",
        api.ContactMethodTestApi.as_view(),
        name="contact-method-test",
    ),
    path("test-pages/<int:page_id>/", api.TestPageDetailApi.as_view(), name="test-page-detail"),
]
