# syntax=docker/dockerfile:1
# Build stage: wheels for the project (all its apps) and every dependency.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY energygrid ./energygrid
COPY customers ./customers
COPY metadata ./metadata
COPY usage ./usage
COPY budgets ./budgets
COPY insights ./insights
COPY support ./support
COPY demo ./demo
COPY partners ./partners
RUN pip wheel --wheel-dir /wheels .

# Runtime stage: the installed wheels and manage.py only, run as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    STATIC_ROOT=/app/staticfiles
RUN useradd --system --uid 10001 --home-dir /app energygrid
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-index /wheels/* && rm -rf /wheels
COPY manage.py ./
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --no-input -v 0
USER energygrid
EXPOSE 8000
# DATABASE_URL, REDIS_URL and DJANGO_SECRET_KEY come from the environment at run time.
# Same image for workers: `celery -A energygrid worker` and `celery -A energygrid beat`;
# migrations: `python manage.py migrate`.
CMD ["gunicorn", "energygrid.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
