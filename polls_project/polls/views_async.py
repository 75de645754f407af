"""The views of views.py with Django's async ORM, for ASGI servers (POLLS_VIEWS=async)."""

from django.db.models import F
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from .models import Choice, Question

try:
    from django.shortcuts import aget_object_or_404
except ImportError:  # Django 4.1 and 4.2 have the async ORM but not this shortcut (5.0)
    from django.http import Http404

    async def aget_object_or_404(model, **lookup):
        try:
            return await model.objects.aget(**lookup)
        except model.DoesNotExist:
            raise Http404(f"No {model._meta.object_name} matches the given query.") from None

# All data is awaited before render(): a lazy queryset reaching a template would do sync
# database I/O inside the event loop, which Django refuses (SynchronousOnlyOperation).


async def index(request):
    latest_question_list = [q async for q in Question.objects.order_by("-pub_date")[:5]]
    return render(request, "polls/index.html", {"latest_question_list": latest_question_list})


async def _render_question(request, template, question, error_message=None):
    context = {
        "question": question,
        "choices": [c async for c in question.choice_set.order_by("pk")],
        "error_message": error_message,
    }
    return render(request, template, context)


async def detail(request, question_id):
    question = await aget_object_or_404(Question, pk=question_id)
    return await _render_question(request, "polls/detail.html", question)


async def results(request, question_id):
    question = await aget_object_or_404(Question, pk=question_id)
    return await _render_question(request, "polls/results.html", question)


async def vote(request, question_id):
    # The same queries as views.vote: the question, the choice of that question, the UPDATE.
    question = await aget_object_or_404(Question, pk=question_id)
    try:
        selected_choice = await question.choice_set.aget(pk=request.POST["choice"])
    except (KeyError, ValueError, Choice.DoesNotExist):
        return await _render_question(
            request, "polls/detail.html", question, "You didn't select a choice."
        )
    selected_choice.votes = F("votes") + 1
    await selected_choice.asave(update_fields=["votes"])
    return HttpResponseRedirect(reverse("polls:results", args=(question.id,)))
