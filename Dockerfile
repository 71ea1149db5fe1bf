# The Google OAuth2 Mattermost App: gunicorn serving `app:app`, as `make run` does, as a non-root user.
#
#   docker build -t mattermost-app-google-oauth2 .
#   docker run -p 8080:8080 -e ROOT_URL=http://<host Mattermost can reach>:8080 -e APP_SECRET=... mattermost-app-google-oauth2
#
# No secret is baked in. Without APP_SECRET the app generates one into /app/instance/app_secret (a volume)
# on first start and logs where it is.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A system user that owns nothing but the app's instance folder.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Installed at build time, never at start.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Only what the app runs. The code stays owned by root: the app user can read it, not change it.
COPY app.py commands.py services.py settings.py gunicorn.conf.py manifest.json ./
COPY bindings/ ./bindings/
COPY handlers/ ./handlers/
COPY mattermost_apps/ ./mattermost_apps/
COPY provider/ ./provider/
COPY user_tokens/ ./user_tokens/
COPY static/ ./static/
RUN python -m compileall -q /app

# The only place the app writes: the generated JWT secret when APP_SECRET is not set.
RUN mkdir -p /app/instance && chown app:app /app/instance && chmod 700 /app/instance
ENV APP_SECRET_FILE=/app/instance/app_secret
VOLUME ["/app/instance"]

USER app

# gunicorn.conf.py binds HOST:PORT (default 0.0.0.0:8080), WEB_CONCURRENCY workers x GUNICORN_THREADS threads.
EXPOSE 8080

# No curl in slim images: ask Python. /manifest.json needs no JWT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/manifest.json' % os.environ.get('PORT', '8080'), timeout=4)"]

# gunicorn reads ./gunicorn.conf.py from the working directory.
CMD ["gunicorn", "app:app"]
