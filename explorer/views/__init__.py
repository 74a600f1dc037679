"""Views of the browser UI: typed function views, one module per area; every change goes through a service."""
