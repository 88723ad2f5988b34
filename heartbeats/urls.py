from django.urls import path, re_path

from heartbeats.views import pings

urlpatterns = [
    path("ping/<uuid:job_uuid>", pings.ping_by_uuid),
    path("ping/<uuid:job_uuid>/<str:signal>", pings.ping_by_uuid),
    path("ping/<str:key>/<str:job_name>", pings.ping_by_name),
    path("ping/<str:key>/<str:job_name>/<str:signal>", pings.ping_by_name),
    re_path(r"^ping/", pings.unknown),
]
