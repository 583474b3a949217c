"""The web shell: the ASGI app and every route, with one exception -> HTTP map."""
