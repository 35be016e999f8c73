-- Every request carries the session cookie, so each proxy takes its sticky path.
wrk.headers["Cookie"] = "JSESSIONID=bench-session-1; SERVERID=w1"
