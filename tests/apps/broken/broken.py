"""An app module that fails while being imported."""

value = 1 / 0


def application(environ, start_response):
    pass
