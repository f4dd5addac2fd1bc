"""WSGI entry point: `gunicorn wsgi:app` (the `directory serve` command does this for you)."""

from directory import config, create_app, logs

_settings = config.resolve()
logs.configure(_settings["LOG_LEVEL"])
app = create_app({"SECRET_KEY": config.secret_key(_settings)})
