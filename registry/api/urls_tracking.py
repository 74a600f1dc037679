"""URLs of the tracking API."""

urlpatterns: list = []
