from django.urls import path

from heartbeats.web import summary

urlpatterns = [
    path("summary/", summary.summary_page, name="summary"),
    path("summary.json", summary.summary_json, name="summary-json"),
    path("metrics", summary.metrics_view, name="metrics"),
    path("healthz", summary.healthz, name="healthz"),
]
