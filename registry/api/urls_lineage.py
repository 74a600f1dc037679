"""URLs of the lineage API."""

urlpatterns: list = []
