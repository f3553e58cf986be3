# syntax=docker/dockerfile:1
# The incident portal image: one image for web (gunicorn), worker and beat (celery) and the
# one-shot migrate job; docker-compose.yml picks the command. tests/oncall/test_compose.py
# checks this file against the code (no Docker needed).

# --- Browser assets from npm (package.json / package-lock.json) ------------------------------
FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# --- Python dependencies, exactly as locked (hashes pinned by `make lock`) --------------------
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements/prod.txt /tmp/requirements/prod.txt
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements/prod.txt

# --- Runtime --------------------------------------------------------------------------------
FROM python:3.12-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=oncall.settings.production \
    VAR_DIR=/app/var

RUN groupadd --system --gid 10001 oncall \
    && useradd --system --uid 10001 --gid oncall --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin oncall

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# STATICFILES_DIRS reads htmx from BASE_DIR/node_modules/htmx.org/dist.
COPY --from=assets /src/node_modules/htmx.org/dist /app/node_modules/htmx.org/dist
COPY --from=assets /src/node_modules/chart.js/dist /app/node_modules/chart.js/dist
# The source stays root-owned (read-only for the app); only VAR_DIR is writable by it.
COPY . /app
RUN mkdir -p /app/var && chown oncall:oncall /app/var

USER oncall
# Production settings refuse to load without SECRET_KEY; collectstatic needs none, so a
# build-only dummy is given to this command alone (it is not kept in the image's ENV).
RUN SECRET_KEY=collectstatic-build-only-not-a-secret python manage.py collectstatic --noinput -v0

EXPOSE 8000
# /healthz is exempt from the SSL redirect and login; ALLOWED_HOSTS must include 127.0.0.1.
# It answers 503 while the database, the broker or beat is down.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "oncall.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
