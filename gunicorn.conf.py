"""gunicorn settings, read automatically by `gunicorn app:app` from the repository root (and in the image)."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"  # noqa: S104 - a server's job
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# The plugin gives a call 30 s; a worker stuck longer than that has lost its caller anyway.
timeout = 30
graceful_timeout = 10
keepalive = 5
# No access log: the app logs what matters, and request lines are noise at this volume.
accesslog = None
errorlog = "-"
# gunicorn 27's control socket has one fixed path per user: two instances (replicas, tests) would share it.
control_socket_disable = True
