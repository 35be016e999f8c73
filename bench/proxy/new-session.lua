-- No cookie, and a path where the worker starts a session: every request makes a new session,
-- which the proxy learns from the response's Set-Cookie (and journals, and signs a route cookie for).
wrk.path = "/new"
