from django.db.models import F
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from .models import Choice, Question

# Querysets are evaluated here, never in templates, so both view variants do the same queries.


def index(request):
    latest_question_list = list(Question.objects.order_by("-pub_date")[:5])
    return render(request, "polls/index.html", {"latest_question_list": latest_question_list})


def _render_question(request, template, question, error_message=None):
    context = {
        "question": question,
        "choices": list(question.choice_set.order_by("pk")),
        "error_message": error_message,
    }
    return render(request, template, context)


def detail(request, question_id):
    question = get_object_or_404(Question, pk=question_id)
    return _render_question(request, "polls/detail.html", question)


def results(request, question_id):
    question = get_object_or_404(Question, pk=question_id)
    return _render_question(request, "polls/results.html", question)


def vote(request, question_id):
    question = get_object_or_404(Question, pk=question_id)
    try:
        selected_choice = question.choice_set.get(pk=request.POST["choice"])
    except (KeyError, ValueError, Choice.DoesNotExist):
        # Redisplay the question voting form.
        return _render_question(
            request, "polls/detail.html", question, "You didn't select a choice."
        )
    # The tutorial's increment, but writing the counter only (views_async.py does the same).
    selected_choice.votes = F("votes") + 1
    selected_choice.save(update_fields=["votes"])
    # Redirect after a successful POST so Back can't submit the vote twice.
    return HttpResponseRedirect(reverse("polls:results", args=(question.id,)))
