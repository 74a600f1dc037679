"""URLs of the registry API."""

urlpatterns: list = []
