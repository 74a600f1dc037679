"""URLs of the artifacts API."""

urlpatterns: list = []
