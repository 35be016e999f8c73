package org.handover.tomcat;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Session reports in the syntax of the {@code X-Handover-Session} header (docs/session-reporting.md):
 * {@code <id>; ttl=<seconds>} for a session that exists, {@code <id>; ttl=0} for one that ended,
 * a bare {@code <id>} for one that never expires (Handover then uses the pool's idle timeout).
 * One entry per id, the last word wins. Not thread-safe: one per request, or used under a lock.
 */
final class Reports {
    /** ttl value meaning "no timeout of its own": reported as a bare id. */
    static final int NO_TTL = -1;

    private final Map<String, Integer> ttls = new LinkedHashMap<>();

    /** Whether the id can be carried by the header: no separators, no whitespace, no quotes. */
    static boolean reportable(String id) {
        if (id == null || id.isEmpty() || id.length() > 1024) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (c == ',' || c == ';' || c == '"' || c <= ' ' || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }

    static String entry(String id, int ttl) {
        return ttl < 0 ? id : id + "; ttl=" + ttl;
    }

    /** Notes a session's state; a later note for the same id replaces (and moves after) the earlier one. */
    void put(String id, int ttl) {
        if (!reportable(id)) {
            return;
        }
        ttls.remove(id);
        ttls.put(id, ttl);
    }

    boolean has(String id) {
        return ttls.containsKey(id);
    }

    boolean isEmpty() {
        return ttls.isEmpty();
    }

    void clear() {
        ttls.clear();
    }

    Map<String, Integer> entries() {
        return ttls;
    }

    /**
     * The entries joined with ", ", at most {@code maxLength} characters. With {@code remove}, the
     * entries written are taken out (the rest is left for later).
     */
    String join(int maxLength, boolean remove) {
        StringBuilder out = new StringBuilder();
        for (Iterator<Map.Entry<String, Integer>> it = ttls.entrySet().iterator(); it.hasNext();) {
            Map.Entry<String, Integer> e = it.next();
            String entry = entry(e.getKey(), e.getValue());
            int length = out.length() == 0 ? entry.length() : out.length() + 2 + entry.length();
            if (length > maxLength) {
                break;
            }
            if (out.length() > 0) {
                out.append(", ");
            }
            out.append(entry);
            if (remove) {
                it.remove();
            }
        }
        return out.toString();
    }
}
