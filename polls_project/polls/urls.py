from importlib import import_module

from django.conf import settings
from django.urls import path

# settings.py has already rejected any other value of POLLS_VIEWS.
views = import_module({"sync": "polls.views", "async": "polls.views_async"}[settings.POLLS_VIEWS])

app_name = "polls"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:question_id>/", views.detail, name="detail"),
    path("<int:question_id>/results/", views.results, name="results"),
    path("<int:question_id>/vote/", views.vote, name="vote"),
]
