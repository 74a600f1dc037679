"""URLs of the comments and follows API, under the API prefix (tokens) and the browser's ajax prefix (session)."""
from django.urls import path

from registry.api.comments import CommentDetailView, CommentsView, FollowsView

urlpatterns: list = []
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    urlpatterns += [
        path(f"{prefix}/2.0/explorer/comments", CommentsView.as_view(), name=f"{name_prefix}comments"),
        path(f"{prefix}/2.0/explorer/comments/<str:comment_id>", CommentDetailView.as_view(),
             name=f"{name_prefix}comment"),
        path(f"{prefix}/2.0/explorer/follows", FollowsView.as_view(), name=f"{name_prefix}follows"),
    ]
