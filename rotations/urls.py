from django.urls import path

app_name = "rotations"

urlpatterns: list = []
