# The app image: the Django project, every server in the registry and Locust (the Locust
# services reuse this image). Dependencies first, so code changes keep the pip layer cached.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY constraints.txt ./
RUN pip install -c constraints.txt Django "psycopg[binary,pool]" gunicorn "uvicorn[standard]" uvicorn-worker gevent pyuwsgi daphne \
    hypercorn granian locust

COPY djbench ./djbench
COPY polls_project ./polls_project
COPY locustfiles ./locustfiles
ENV PYTHONPATH=/app/polls_project:/app DJANGO_SETTINGS_MODULE=mysite.settings
EXPOSE 8000
CMD ["python", "-m", "djbench.stack.serve"]
