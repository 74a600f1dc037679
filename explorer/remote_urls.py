"""The remote-registry pages (explorer/views/remote.py): the user's list, and a remote's models and versions."""
from django.urls import path

from explorer.views import remote

patterns = [
    path("settings/remote-registries/", remote.remote_registries, name="remote_registries"),
    path("settings/remote-registries/<str:name>/remove/", remote.remote_registry_remove_view,
         name="remote_registry_remove"),
    path("remote/<str:name>/", remote.remote_models, name="remote_models"),
    path("remote/<str:name>/models/<str:model>/", remote.remote_model, name="remote_model"),
    path("remote/<str:name>/models/<str:model>/versions/<int:version>/", remote.remote_version,
         name="remote_version"),
    path("remote/<str:name>/models/<str:model>/versions/<int:version>/compare/", remote.remote_compare,
         name="remote_compare"),
    path("remote/<str:name>/models/<str:model>/versions/<int:version>/import/", remote.remote_import,
         name="remote_import"),
]
