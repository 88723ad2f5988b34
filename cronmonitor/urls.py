from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("heartbeats.urls")),
    path("admin/", admin.site.urls),
    path("", include("heartbeats.urls_summary")),
]
