package org.handover.tomcat;

import jakarta.servlet.http.HttpSession;
import jakarta.servlet.http.HttpSessionEvent;
import jakarta.servlet.http.HttpSessionIdListener;
import jakarta.servlet.http.HttpSessionListener;

import org.apache.catalina.Context;

/**
 * The session listener HandoverValve adds to each webapp (as if its web.xml had declared it):
 * creation, id change, and the end of a session, whether by invalidate() or expiry.
 */
final class SessionEvents implements HttpSessionListener, HttpSessionIdListener {

    private final Context context;

    private SessionEvents(Context context) {
        this.context = context;
    }

    /** Adds the listener to the context once (its listener lists are rebuilt at each start). */
    static synchronized void install(Context context) {
        Object[] lifecycle = context.getApplicationLifecycleListeners();
        if (lifecycle == null) {
            lifecycle = new Object[0];
        }
        for (Object listener : lifecycle) {
            if (listener instanceof SessionEvents) {
                return;
            }
        }
        SessionEvents listener = new SessionEvents(context);
        context.setApplicationLifecycleListeners(append(lifecycle, listener)); // created, destroyed
        Object[] events = context.getApplicationEventListeners();
        context.setApplicationEventListeners(append(events == null ? new Object[0] : events, listener)); // id changed
    }

    private static Object[] append(Object[] listeners, Object listener) {
        Object[] longer = new Object[listeners.length + 1];
        System.arraycopy(listeners, 0, longer, 0, listeners.length);
        longer[listeners.length] = listener;
        return longer;
    }

    @Override
    public void sessionCreated(HttpSessionEvent event) {
        HttpSession session = event.getSession();
        HandoverValve.note(session.getId(), HandoverValve.ttl(session.getMaxInactiveInterval()));
    }

    @Override
    public void sessionDestroyed(HttpSessionEvent event) {
        String id = event.getSession().getId();
        // Tomcat may give the same id to this client's sessions in several webapps (cookie path "/"):
        // the id ends for Handover when its last one does.
        if (!HandoverValve.livesElsewhere(context, id)) {
            HandoverValve.note(id, 0);
        }
    }

    @Override
    public void sessionIdChanged(HttpSessionEvent event, String oldSessionId) {
        if (!HandoverValve.livesElsewhere(context, oldSessionId)) {
            HandoverValve.note(oldSessionId, 0);
        }
        HttpSession session = event.getSession();
        HandoverValve.note(session.getId(), HandoverValve.ttl(session.getMaxInactiveInterval()));
    }
}
