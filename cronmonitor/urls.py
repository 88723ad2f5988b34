from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("heartbeats.web.ping_urls")),
    path("", include("heartbeats.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("heartbeats.web.summary_urls")),
]
