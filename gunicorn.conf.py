"""gunicorn settings, read by `gunicorn app:app` from the repository root (and in the image), in the master process
before any worker starts.

Every setting the app and this file read is checked here first: a bad one stops the server with one line that names
the variable. The start-up notices (a generated APP_SECRET, what the configuration trusts) are logged here, once.

gevent workers: each connection is a greenlet, so clients that send their request slowly, or open connections and
send nothing, cost a socket each and never hold up the Mattermost server's calls (gthread's threads would wait on
them). gevent patches the standard library first, before anything imports ssl or sockets.
"""

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402 - after the patching
import logging.config  # noqa: E402
import sys  # noqa: E402

from settings import ServerSettings, Settings, SettingsError, log_config, log_config_from_env  # noqa: E402

# Logging first, so that what reading the settings says (a generated APP_SECRET) looks like every other line.
logging.config.dictConfig(log_config_from_env())
try:
    server = ServerSettings.from_env()
    app_settings = Settings.from_env()
except SettingsError as exc:
    sys.exit(str(exc))

logconfig_dict = log_config(app_settings.log_level, app_settings.log_format)
logging.config.dictConfig(logconfig_dict)
for level, notice in app_settings.notices():
    logging.getLogger("app").log(level, notice)

bind = f"{server.host}:{server.port}"
workers = server.workers
worker_class = "gevent"
worker_connections = server.worker_connections
# The plugin gives a call 30 s, and the app ends its own work within CALL_DEADLINE: a worker silent for longer is stuck.
timeout = 30
graceful_timeout = 10
keepalive = 5
# No access log: the app logs what matters, and request lines are noise at this volume.
accesslog = None
errorlog = "-"
# gunicorn 27's control socket has one fixed path per user: two instances (replicas, tests) would share it.
control_socket_disable = True
