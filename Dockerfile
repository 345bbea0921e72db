# syntax=docker/dockerfile:1
# Feature Metadata Gateway: gunicorn serving the WSGI app, as a non-root user.
#   docker build -t feature-metadata-gateway .               # the runtime image (last stage)
#   docker build --target test -t feature-metadata-gateway-test .
# Migrations are a separate one-shot step, never run by the workers:
#   docker run --rm -e DATABASE_URL=... feature-metadata-gateway alembic upgrade head
# The image runs in token mode (AUTH_MODE=token): serving needs -e SECRET_KEY=... as well.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin gateway

# Build stage: the virtualenv with the package and its dependencies (all wheels, no compiler).
FROM base AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /app
COPY setup.cfg pyproject.toml README.md* ./
COPY src ./src
# Installed in place (editable) at the path it keeps in the runtime image: the CLI finds
# alembic.ini and migrations/ beside src/, as in a checkout.
RUN pip install -e .

FROM build AS test-build
RUN pip install -e ".[test]"

# `docker compose run feature-metadata-gateway-test`: the test suite, against PostgreSQL.
FROM base AS test
COPY --from=test-build /opt/venv /opt/venv
WORKDIR /app
COPY . .
USER gateway
CMD ["python", "-m", "pytest", "-p", "no:cacheprovider"]

# Runtime stage (the default target): no compiler, no pip cache, no tests.
FROM base AS runtime
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini gunicorn.conf.py wsgi.py ./
COPY src ./src
COPY migrations ./migrations
# The default SQLite database (when DATABASE_URL is not set) lives in data/.
RUN mkdir -p /app/data && chown gateway:gateway /app/data
USER gateway
# Token mode unless told otherwise: an image run as it is never serves unauthenticated. It
# serves only with a SECRET_KEY (-e SECRET_KEY=...); migrations and the CLI need none.
ENV GUNICORN_BIND=0.0.0.0:8000 \
    AUTH_MODE=token
EXPOSE 8000
# Liveness only (/livez never touches the database): a database outage must not get
# every app container replaced. Load balancers use /health for readiness.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4).status != 200)"]
# SIGTERM (Docker's stop signal) makes gunicorn finish in-flight requests first
# (graceful_timeout 30 s): give `docker stop` at least that long (compose: 35 s).
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
