package org.handover.tomcat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import org.apache.juli.logging.Log;
import org.apache.juli.logging.LogFactory;

/**
 * Reports that no response can carry (a session expired in Tomcat's background thread, or ended
 * after its response was committed), posted to the supervisor: {@code POST $HANDOVER_REPORT_URL}
 * with {@code Authorization: Bearer $HANDOVER_REPORT_TOKEN}, a text/plain body in the header's
 * syntax, at most 64 KiB. The supervisor applies it as if this worker's response had carried it.
 *
 * Never blocks the caller: reports go into a bounded buffer that one daemon thread sends. A batch
 * the supervisor refuses or cannot be reached for is dropped with a log line (those sessions then
 * end by Handover's idle timeout).
 */
final class SideChannel {
    static final int MAX_BODY = 64 * 1024;
    /** Pending ids at most; more are dropped (with one log line per overflow). */
    static final int MAX_PENDING = 100_000;

    private static final Log log = LogFactory.getLog(SideChannel.class);

    private final URI uri;
    private final String token;
    private final Reports pending = new Reports();
    private boolean overflowing;
    private Thread sender;

    private SideChannel(URI uri, String token) {
        this.uri = uri;
        this.token = token;
    }

    /**
     * The side channel the supervisor offers this worker ({@code HANDOVER_REPORT_URL} and
     * {@code HANDOVER_REPORT_TOKEN}, from the environment or as system properties), or null.
     */
    static SideChannel fromEnvironment() {
        String url = setting("HANDOVER_REPORT_URL");
        String token = setting("HANDOVER_REPORT_TOKEN");
        if (url == null || token == null) {
            return null;
        }
        try {
            URI uri = URI.create(url);
            if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
                throw new IllegalArgumentException("not an http(s) URL");
            }
            return new SideChannel(uri, token);
        } catch (IllegalArgumentException e) {
            log.warn("Handover: HANDOVER_REPORT_URL is not usable (" + e.getMessage() + "); reporting through headers only");
            return null;
        }
    }

    private static String setting(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            value = System.getProperty(name);
        }
        return value == null || value.isEmpty() ? null : value;
    }

    URI uri() {
        return uri;
    }

    /** Queues one report; returns at once. */
    synchronized void report(String id, int ttl) {
        if (!Reports.reportable(id)) {
            return;
        }
        if (!pending.has(id) && pending.entries().size() >= MAX_PENDING) {
            if (!overflowing) {
                overflowing = true;
                log.warn("Handover: more than " + MAX_PENDING + " session reports waiting for the supervisor; dropping new ones");
            }
            return;
        }
        pending.put(id, ttl);
        if (sender == null) {
            sender = new Thread(this::run, "handover-session-reports");
            sender.setDaemon(true);
            // Not the webapp's class loader of whichever request came first: nothing to pin.
            sender.setContextClassLoader(SideChannel.class.getClassLoader());
            sender.start();
        }
        notifyAll();
    }

    private synchronized String take() throws InterruptedException {
        while (pending.isEmpty()) {
            wait();
        }
        overflowing = false;
        return pending.join(MAX_BODY, true);
    }

    private void run() {
        // HTTP/1.1: the default (HTTP/2) would ask a plain-http server to upgrade (Upgrade: h2c).
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
        for (;;) {
            String body;
            try {
                body = take();
            } catch (InterruptedException e) {
                return;
            }
            if (body.isEmpty()) {
                continue;
            }
            // Counted, never logged: a session id in a log file is a way into that session.
            int entries = body.split(",").length;
            try {
                HttpRequest request = HttpRequest.newBuilder(uri)
                        .timeout(Duration.ofSeconds(5))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", "text/plain; charset=utf-8")
                        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
                        .build();
                HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() / 100 != 2) {
                    log.warn("Handover: the supervisor refused " + entries + " session report(s) (HTTP " + response.statusCode() + "); dropped");
                } else if (log.isDebugEnabled()) {
                    log.debug("Handover: " + entries + " session report(s) sent to the supervisor");
                }
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                log.warn("Handover: could not reach the supervisor at " + uri + " (" + e + "); " + entries + " session report(s) dropped");
            }
        }
    }
}
