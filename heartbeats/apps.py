from django.apps import AppConfig


class HeartbeatsConfig(AppConfig):
    name = "heartbeats"
    verbose_name = "Cron monitor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from heartbeats import checks  # noqa: F401  (registers the system checks)
