"""URL table of the REST APIs (MLflow-compatible and Unity Catalog)."""
from django.urls import path

urlpatterns: list = []
