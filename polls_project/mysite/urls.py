from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/polls/")),
    path("polls/", include("polls.urls")),
]
