import re
from io import StringIO

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.test import AsyncClient, Client, RequestFactory, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from . import views, views_async
from .models import Choice, Question


def create_question(text, *choices):
    question = Question.objects.create(question_text=text, pub_date=timezone.now())
    for choice in choices:
        question.choice_set.create(choice_text=choice)
    return question


class ViewTests(TestCase):
    """Runs against whichever view module POLLS_VIEWS selects."""

    @classmethod
    def setUpTestData(cls):
        cls.question = create_question("What's up?", "Not much", "The sky")
        cls.other = create_question("Other?", "Yes", "No")
        cls.first, cls.second = cls.question.choice_set.order_by("pk")
        cls.other_choice = cls.other.choice_set.first()

    def votes(self):
        return dict(Choice.objects.values_list("pk", "votes"))

    def test_root_redirects_to_index(self):
        self.assertRedirects(self.client.get("/"), "/polls/")

    def test_index_lists_latest_questions(self):
        for i in range(6):
            create_question(f"Extra {i}")
        response = self.client.get("/polls/")
        self.assertContains(response, '<a href="/polls/', count=5)
        self.assertContains(response, "Extra 5")
        self.assertNotContains(response, "What&#x27;s up?")

    def test_index_without_questions(self):
        Question.objects.all().delete()
        self.assertContains(self.client.get("/polls/"), "No polls are available.")

    def test_detail_has_csrf_token_and_radios(self):
        response = self.client.get(f"/polls/{self.question.pk}/")
        self.assertContains(response, 'name="csrfmiddlewaretoken"')
        self.assertContains(response, f'action="/polls/{self.question.pk}/vote/"')
        for n, choice in enumerate((self.first, self.second), start=1):
            self.assertContains(
                response,
                f'<input type="radio" name="choice" id="choice{n}" value="{choice.pk}">',
                html=True,
            )

    def test_templates_get_loaded_data(self):
        # Querysets reaching a template would query during rendering, in the event loop for
        # async views; lists prove the views loaded everything first.
        with self.assertNumQueries(1):
            response = self.client.get("/polls/")
        self.assertIsInstance(response.context["latest_question_list"], list)
        for url in (f"/polls/{self.question.pk}/", f"/polls/{self.question.pk}/results/"):
            with self.subTest(url=url), self.assertNumQueries(2):  # question, choices
                response = self.client.get(url)
                self.assertEqual(response.context["choices"], [self.first, self.second])

    def test_results_show_votes(self):
        Choice.objects.filter(pk=self.first.pk).update(votes=3)
        response = self.client.get(f"/polls/{self.question.pk}/results/")
        self.assertContains(response, "Not much -- 3 votes")
        self.assertContains(response, "The sky -- 0 votes")

    def test_unknown_question_is_404(self):
        for suffix in ("", "results/", "vote/"):
            with self.subTest(suffix=suffix):
                self.assertEqual(self.client.get(f"/polls/999999/{suffix}").status_code, 404)
        response = self.client.post("/polls/999999/vote/", {"choice": self.first.pk})
        self.assertEqual(response.status_code, 404)

    def test_vote_counts_only_the_selected_choice(self):
        before = self.votes()
        response = self.client.post(
            reverse("polls:vote", args=(self.question.pk,)), {"choice": self.second.pk}
        )
        self.assertRedirects(response, f"/polls/{self.question.pk}/results/")
        before[self.second.pk] += 1
        self.assertEqual(self.votes(), before)

    def test_vote_without_choice_redisplays_form(self):
        before = self.votes()
        for data in ({}, {"choice": ""}, {"choice": "abc"}, {"choice": self.other_choice.pk}):
            with self.subTest(data=data):
                response = self.client.post(f"/polls/{self.question.pk}/vote/", data)
                self.assertContains(response, "You didn&#x27;t select a choice.")
                self.assertContains(response, 'type="radio"', count=2)
        self.assertEqual(self.votes(), before)

    def test_get_vote_is_not_counted(self):
        before = self.votes()
        response = self.client.get(f"/polls/{self.question.pk}/vote/", {"choice": self.first.pk})
        self.assertContains(response, "You didn&#x27;t select a choice.")
        self.assertEqual(self.votes(), before)

    def test_csrf_is_enforced(self):
        client = Client(enforce_csrf_checks=True)
        url = f"/polls/{self.question.pk}/vote/"
        self.assertEqual(client.post(url, {"choice": self.first.pk}).status_code, 403)
        page = client.get(f"/polls/{self.question.pk}/").content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        response = client.post(url, {"choice": self.first.pk, "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Choice.objects.get(pk=self.first.pk).votes, 1)

    async def test_vote_through_asgi(self):
        # AsyncClient goes through ASGIHandler, as uvicorn does; the sync Client above runs
        # async views through async_to_sync instead.
        response = await AsyncClient().post(
            f"/polls/{self.question.pk}/vote/", {"choice": self.first.pk}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual((await Choice.objects.aget(pk=self.first.pk)).votes, 1)
        response = await AsyncClient().get(f"/polls/{self.question.pk}/results/")
        self.assertContains(response, "Not much -- 1 vote<")

    def test_selected_view_module(self):
        module = {"sync": "polls.views", "async": "polls.views_async"}[settings.POLLS_VIEWS]
        match = self.client.get("/polls/").resolver_match
        self.assertEqual(match.func.__module__, module)


class SameQueriesTests(TestCase):
    """Both view variants do the same database work, whichever one POLLS_VIEWS serves: a
    sync-vs-async comparison must measure the server, not two different views."""

    @classmethod
    def setUpTestData(cls):
        cls.question = create_question("What's up?", "Not much", "The sky")
        cls.other = create_question("Other?", "Yes")
        cls.first, cls.second = cls.question.choice_set.order_by("pk")

    def queries(self, module, method, name, *args, data=None):
        """The SQL one view of `module` runs for one request."""
        request = getattr(RequestFactory(), method)("/", data or {})
        view = getattr(module, name)
        if module is views_async:
            view = async_to_sync(view)
        with CaptureQueriesContext(connection) as captured:
            view(request, *args)
        return [q["sql"] for q in captured.captured_queries]

    def test_every_view_runs_the_same_queries_in_both_variants(self):
        q, missing = self.question.pk, 999999
        requests = {
            # name: (method, view, args, data, queries)
            "index": ("get", "index", (), None, 1),
            "detail": ("get", "detail", (q,), None, 2),  # question, its choices
            "results": ("get", "results", (q,), None, 2),
            # question, the choice of that question, UPDATE votes = votes + 1
            "vote": ("post", "vote", (q,), {"choice": self.second.pk}, 3),
            # question, no such choice of that question, the form's choices again
            "vote, another question's choice": (
                "post", "vote", (q,), {"choice": self.other.choice_set.get().pk}, 3,
            ),
            "vote, no choice": ("post", "vote", (q,), None, 2),  # question, choices
            "vote, not a number": ("post", "vote", (q,), {"choice": "abc"}, 2),
        }  # fmt: skip
        for label, (method, name, args, data, count) in requests.items():
            with self.subTest(label):
                sync = self.queries(views, method, name, *args, data=data)
                self.assertEqual(len(sync), count, sync)
                self.assertEqual(self.queries(views_async, method, name, *args, data=data), sync)
        for module in (views, views_async):
            for method, name in (("get", "detail"), ("get", "results"), ("post", "vote")):
                with self.subTest(module=module.__name__, view=name):
                    with self.assertNumQueries(1), self.assertRaises(Http404):
                        self.queries(module, method, name, missing)

    def test_vote_updates_only_the_counter(self):
        for module in (views, views_async):
            with self.subTest(module=module.__name__):
                before = Choice.objects.get(pk=self.second.pk).votes
                sql = self.queries(module, "post", "vote", self.question.pk,
                                   data={"choice": self.second.pk})  # fmt: skip
                self.assertEqual(
                    sql[-1],
                    'UPDATE "polls_choice" SET "votes" = ("polls_choice"."votes" + 1) '
                    f'WHERE "polls_choice"."id" = {self.second.pk}',
                )
                self.assertEqual(Choice.objects.get(pk=self.second.pk).votes, before + 1)


class SeedPollsTests(TestCase):
    def seed(self, *args):
        out = StringIO()
        call_command("seed_polls", *args, stdout=out)
        return out.getvalue().strip()

    def test_seed_is_idempotent(self):
        self.assertEqual(
            self.seed("--questions", "3", "--choices", "2"), "seeded 3 questions x 2 choices"
        )
        rows = list(Choice.objects.values_list("question__question_text", "choice_text"))
        self.seed("--questions", "3", "--choices", "2")
        self.assertEqual(
            list(Choice.objects.values_list("question__question_text", "choice_text")), rows
        )
        self.assertEqual(len(rows), 6)
        self.assertEqual(
            sorted(Question.objects.values_list("question_text", flat=True)),
            ["Question 1", "Question 2", "Question 3"],
        )

    def test_reset_votes(self):
        self.seed()
        self.assertEqual(Question.objects.count(), 5)
        self.assertEqual(Choice.objects.count(), 20)
        Choice.objects.update(votes=7)
        self.seed("--reset-votes")
        self.assertEqual(Choice.objects.filter(votes=0).count(), 20)
