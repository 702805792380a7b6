"""The HTTP layer of the stats function: the stats API (v1 and v2), the behaviour views, the
raw export, the dashboard and its logins. FastAPI routes only: they parse, ask a service, and
shape; what they read from outside (settings, keys, the engine, logins, goals) is handed in
by the composition root as `WebPorts` (`web.app.create_app`)."""
