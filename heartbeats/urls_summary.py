from django.urls import path

from heartbeats import summary_views

urlpatterns = [
    path("summary/", summary_views.summary_page, name="summary"),
    path("summary.json", summary_views.summary_json, name="summary-json"),
    path("metrics", summary_views.metrics_view, name="metrics"),
    path("healthz", summary_views.healthz, name="healthz"),
]
