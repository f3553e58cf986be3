from django.urls import URLPattern, URLResolver

app_name = "postmortems"

urlpatterns: list[URLPattern | URLResolver] = []
