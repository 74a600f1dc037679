from django.apps import AppConfig


class ExplorerConfig(AppConfig):
    name = "explorer"
    verbose_name = "Catalog Explorer UI"

    def ready(self):
        from explorer.signin import connect_audit

        connect_audit()
