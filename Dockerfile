# syntax=docker/dockerfile:1
# The API as a container: uwsgi (uwsgi.ini) serving run:app on $PORT, as a non-root user.
# Two stages: wheels are built where compilers are (uWSGI compiles C), and only the wheels
# reach the slim runtime image. The release step is the same image with another command:
#   docker run --rm --env-file .env --entrypoint flask flask-api --app run db init

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    PORT=8000
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
COPY --from=build /wheels /wheels
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --no-index --find-links=/wheels -r /tmp/requirements.txt \
    && rm -rf /wheels /tmp/requirements.txt
WORKDIR /app
COPY --chown=app:app . .
USER app
EXPOSE 8000
# Liveness only: /health touches neither MongoDB nor Redis, so a database outage does not get
# healthy containers killed (orchestrators route on /ready instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]
ENTRYPOINT ["uwsgi", "--ini", "uwsgi.ini"]
