"""URLs of the unity_catalog API."""

urlpatterns: list = []
