"""gunicorn's own settings, read by `gunicorn app:app` from the repository root (and in the image), in the master
process before any worker starts. The app's settings are checked by `python -m app`, once, before it runs gunicorn.

gevent workers: each connection is a greenlet, so clients that send their request slowly, or open connections and
send nothing, cost a socket each and never hold up the Mattermost server's calls (gthread's threads would wait on
them). gevent patches the standard library first, before anything imports ssl or sockets.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402 - after the patching

from settings import ServerSettings, SettingsError, log_config_from_env  # noqa: E402

try:
    server = ServerSettings.from_env()
except SettingsError as exc:  # gunicorn started by hand: the same one line as `python -m app`
    sys.exit(str(exc))

bind = f"{server.host}:{server.port}"
workers = server.workers
worker_class = "gevent"
worker_connections = server.worker_connections
# The plugin gives a call 30 s, and the app ends its own work within CALL_DEADLINE: a worker silent for longer is stuck.
timeout = 30
graceful_timeout = 10
keepalive = 5
# One format for gunicorn's lines and the app's (LOG_LEVEL, LOG_FORMAT). No access log: the app logs what matters.
logconfig_dict = log_config_from_env()
accesslog = None
errorlog = "-"
# gunicorn 27's control socket has one fixed path per user: two instances (replicas, tests) would share it.
control_socket_disable = True
