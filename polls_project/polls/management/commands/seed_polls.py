from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from polls.models import Choice, Question


class Command(BaseCommand):
    help = 'Create "Question 1".."Question N", each with "Choice 1".."Choice M", where missing.'

    def add_arguments(self, parser):
        parser.add_argument("--questions", type=int, default=5)
        parser.add_argument("--choices", type=int, default=4)
        parser.add_argument("--reset-votes", action="store_true", help="set every vote count to 0")

    @transaction.atomic
    def handle(self, *args, questions, choices, reset_votes, **options):
        for i in range(1, questions + 1):
            question, _ = Question.objects.get_or_create(
                question_text=f"Question {i}", defaults={"pub_date": timezone.now()}
            )
            for j in range(1, choices + 1):
                question.choice_set.get_or_create(choice_text=f"Choice {j}")
        if reset_votes:
            Choice.objects.update(votes=0)
        reset = ", votes reset" if reset_votes else ""
        self.stdout.write(f"seeded {questions} questions x {choices} choices{reset}")
