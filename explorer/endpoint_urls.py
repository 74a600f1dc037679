"""The serving endpoint pages of the UI (included in the explorer namespace)."""
from django.urls import path

from explorer.views import endpoints

urlpatterns = [
    path("endpoints/<str:name>/", endpoints.endpoint_page, name="serving_endpoint"),
]
