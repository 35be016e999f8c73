package org.handover.tomcat;

import java.io.IOException;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

import jakarta.servlet.ServletException;

import org.apache.catalina.Container;
import org.apache.catalina.ContainerEvent;
import org.apache.catalina.Context;
import org.apache.catalina.Lifecycle;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.LifecycleState;
import org.apache.catalina.Manager;
import org.apache.catalina.Session;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ValveBase;
import org.apache.juli.logging.Log;
import org.apache.juli.logging.LogFactory;

/**
 * Handover session reporting for Tomcat 10+ (Jakarta), with no change to the webapps. One line in
 * {@code conf/server.xml}, inside {@code <Engine>} (or a {@code <Host>}, or a {@code <Context>}):
 *
 * <pre>{@code <Valve className="org.handover.tomcat.HandoverValve" />}</pre>
 *
 * It registers a session listener on every webapp it serves (creation, {@code changeSessionId()},
 * invalidation, expiry) and tells the Handover proxy, in {@code X-Handover-Session} on the
 * response (docs/session-reporting.md):
 *
 * <pre>
 *   &lt;id&gt;; ttl=&lt;seconds&gt;   the session this request used or created (its remaining idle lifetime)
 *   &lt;id&gt;; ttl=0           a session that ended: invalidate(), expiry, the old id of changeSessionId()
 * </pre>
 *
 * The header is written as each event happens, while the response is not committed. What no
 * response can carry (an expiry in Tomcat's background thread, an invalidation after a streamed
 * response's head went out) is posted to the supervisor's side channel
 * ({@code HANDOVER_REPORT_URL}, {@code HANDOVER_REPORT_TOKEN}) from a thread of its own; without
 * one, it rides on the next response that comes through the proxy (one with {@code X-Forwarded-*}).
 *
 * The proxy strips the header before the response reaches the client, and never believes one a
 * client sent.
 */
public final class HandoverValve extends ValveBase {

    static final String HEADER = "X-Handover-Session";
    /** At most this many characters of reports per response (the protocol's 4 KiB). */
    static final int MAX_HEADER = 4000;
    /** Reports waiting for a response to ride on (no side channel) at most. */
    static final int MAX_LATER = 10_000;

    private static final Log log = LogFactory.getLog(HandoverValve.class);

    /** The request this thread is serving, when it passes through a HandoverValve. */
    private static final ThreadLocal<Exchange> CURRENT = new ThreadLocal<>();

    /** Containers already watched (Engine, Hosts, Contexts), by any HandoverValve of this JVM. */
    private static final Set<Container> WATCHED = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

    private static final Object OUTBOX_LOCK = new Object();
    private static boolean outboxReady;
    private static SideChannel sideChannel;
    /** Without a side channel: reports for the next proxied response. Guarded by OUTBOX_LOCK. */
    private static final Reports LATER = new Reports();

    public HandoverValve() {
        super(true);
    }

    @Override
    public void setContainer(Container container) {
        super.setContainer(container);
        if (container != null) {
            watch(container);
        }
    }

    @Override
    protected void startInternal() throws LifecycleException {
        watch(getContainer());
        SideChannel channel = sideChannel();
        log.info(channel == null ? "Handover: reporting sessions in " + HEADER + " (no side channel: HANDOVER_REPORT_URL is not set)"
                : "Handover: reporting sessions in " + HEADER + ", and to " + channel.uri() + " when no response can carry them");
        super.startInternal();
    }

    @Override
    public void invoke(Request request, Response response) throws IOException, ServletException {
        if (CURRENT.get() != null) {
            getNext().invoke(request, response); // an outer HandoverValve has this request
            return;
        }
        Exchange exchange = new Exchange(request, response);
        CURRENT.set(exchange);
        try {
            getNext().invoke(request, response);
        } finally {
            try {
                exchange.finish(); // still CURRENT: an expiry it notices goes into this header
            } catch (RuntimeException e) {
                log.warn("Handover: could not report this request's session", e);
            } finally {
                CURRENT.remove();
            }
        }
    }

    // ---- session events (from SessionEvents, on whatever thread Tomcat fires them) ----

    static void note(String id, int ttl) {
        if (!Reports.reportable(id)) {
            return;
        }
        Exchange exchange = CURRENT.get();
        if (exchange != null) {
            exchange.note(id, ttl);
        } else {
            outbox(id, ttl);
        }
    }

    static int ttl(int maxInactiveInterval) {
        return maxInactiveInterval > 0 ? maxInactiveInterval : Reports.NO_TTL;
    }

    /** A report no response of this request can carry. */
    private static void outbox(String id, int ttl) {
        SideChannel channel = sideChannel();
        if (channel != null) {
            channel.report(id, ttl);
            return;
        }
        synchronized (OUTBOX_LOCK) {
            if (LATER.has(id) || LATER.entries().size() < MAX_LATER) {
                LATER.put(id, ttl);
            }
        }
    }

    private static SideChannel sideChannel() {
        synchronized (OUTBOX_LOCK) {
            if (!outboxReady) {
                sideChannel = SideChannel.fromEnvironment();
                outboxReady = true;
            }
            return sideChannel;
        }
    }

    /** Takes waiting reports (no side channel), at most maxLength characters of them, for a proxied response. */
    private static Reports takeLater(int maxLength) {
        Reports taken = new Reports();
        synchronized (OUTBOX_LOCK) {
            int length = 0;
            for (Iterator<Map.Entry<String, Integer>> it = LATER.entries().entrySet().iterator(); it.hasNext();) {
                Map.Entry<String, Integer> e = it.next();
                int more = Reports.entry(e.getKey(), e.getValue()).length() + 2;
                if (length + more > maxLength) {
                    break;
                }
                length += more;
                taken.put(e.getKey(), e.getValue());
                it.remove();
            }
        }
        return taken;
    }

    // ---- finding every webapp, to listen to its sessions ----

    /** Listens to the sessions of the Context, or of every Context under the Engine or Host, now and later. */
    static void watch(Container container) {
        if (container == null || !WATCHED.add(container)) {
            return;
        }
        if (container instanceof Context) {
            Context context = (Context) container;
            // Tomcat rebuilds a context's listeners at each (re)start, after CONFIGURE_START.
            context.addLifecycleListener(event -> {
                if (Lifecycle.CONFIGURE_START_EVENT.equals(event.getType())) {
                    SessionEvents.install(context);
                }
            });
            LifecycleState state = context.getState();
            if (state.isAvailable() || state == LifecycleState.STARTING_PREP) {
                SessionEvents.install(context);
            }
            return;
        }
        container.addContainerListener((ContainerEvent event) -> {
            if (Container.ADD_CHILD_EVENT.equals(event.getType()) && event.getData() instanceof Container) {
                watch((Container) event.getData());
            }
        });
        for (Container child : container.findChildren()) {
            watch(child);
        }
    }

    /** Whether a session with this id lives in a webapp of the host other than {@code except}. */
    static boolean livesElsewhere(Context except, String id) {
        Container host = except.getParent();
        if (host == null) {
            return false;
        }
        for (Container child : host.findChildren()) {
            if (child != except && child instanceof Context && find((Context) child, id) != null) {
                return true;
            }
        }
        return false;
    }

    static Session find(Context context, String id) {
        Manager manager = context.getManager();
        if (manager == null) {
            return null;
        }
        try {
            return manager.findSession(id);
        } catch (IOException | IllegalStateException e) {
            return null;
        }
    }

    /** One request's reports. */
    private static final class Exchange {
        private final Request request;
        private final Response response;
        /** Everything this request reported, for the header (it is rewritten whole each time). */
        private final Reports reports = new Reports();
        /** Reports waiting from earlier (no side channel), taken once this response may carry them. */
        private Reports carried;

        /**
         * Whether the request came through a proxy (Handover adds X-Forwarded-*), so that reports
         * waiting for a response may ride on this one: a health check or the app's own probe asks
         * the worker directly, and what rides on its answer would be lost. Any of these headers,
         * since a RemoteIpValve in front of this one may have consumed X-Forwarded-For.
         */
        private final boolean proxied;

        Exchange(Request request, Response response) {
            this.request = request;
            this.response = response;
            this.proxied = request.getHeader("X-Forwarded-For") != null || request.getHeader("X-Forwarded-Proto") != null
                    || request.getHeader("X-Forwarded-Host") != null || request.getHeader("Forwarded") != null;
        }

        void note(String id, int ttl) {
            reports.put(id, ttl);
            if (!write()) {
                outbox(id, ttl); // after the head went out: a streamed response
            }
        }

        /** At the end of the request: the session it came with, if no event said anything about it. */
        void finish() {
            if (response.isCommitted()) {
                return; // everything that happened was written or sent to the outbox
            }
            Context context = request.getContext();
            if (context != null) {
                // The sessions it made or renamed: with their timeout as the request left it
                // (an app may call setMaxInactiveInterval() after getSession()).
                for (Map.Entry<String, Integer> e : reports.entries().entrySet()) {
                    Session session = e.getValue() == 0 ? null : find(context, e.getKey());
                    if (session != null) {
                        e.setValue(ttl(session.getMaxInactiveInterval()));
                    }
                }
            }
            String requested = request.getRequestedSessionId();
            if (context != null && requested != null && !reports.has(requested) && Reports.reportable(requested)) {
                Session session = find(context, requested);
                // isValid() expires a session past its time, here and now (an event for it then comes first).
                if (session != null && session.isValid() && !reports.has(requested)) {
                    reports.put(requested, remainingTtl(session));
                } else if (session == null && !livesElsewhere(context, requested)) {
                    reports.put(requested, 0); // a stale id: no such session (any more) on this worker
                }
            }
            write();
        }

        /** Writes the header with everything so far; false once the response is committed. */
        private boolean write() {
            if (response.isCommitted()) {
                return false;
            }
            if (carried == null && proxied && sideChannel() == null) {
                carried = takeLater(MAX_HEADER / 2);
            }
            // This request's own reports first (they are newer, and must fit), then what waited.
            Reports all = new Reports();
            for (Map.Entry<String, Integer> e : reports.entries().entrySet()) {
                all.put(e.getKey(), e.getValue());
            }
            if (carried != null) {
                for (Map.Entry<String, Integer> e : carried.entries().entrySet()) {
                    if (!all.has(e.getKey())) {
                        all.put(e.getKey(), e.getValue());
                    }
                }
            }
            String value = all.join(MAX_HEADER, false);
            if (!value.isEmpty()) {
                response.getCoyoteResponse().setHeader(HEADER, value);
            }
            return true;
        }

        private static int remainingTtl(Session session) {
            int max = session.getMaxInactiveInterval();
            if (max <= 0) {
                return Reports.NO_TTL;
            }
            long idleMs = Math.max(0, session.getIdleTimeInternal());
            return (int) Math.max(1, max - idleMs / 1000);
        }
    }
}
