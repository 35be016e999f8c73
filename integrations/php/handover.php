<?php
/**
 * Handover session reporting for PHP, with no change to the application: load it with
 * `auto_prepend_file` (php.ini, `-d auto_prepend_file=…`, or `php_value` in Apache). Every
 * response that touched a session tells the Handover proxy, in `X-Handover-Session`:
 *
 *   <id>; ttl=<session.gc_maxlifetime>   the session this request used (new, adopted or old)
 *   <id>; ttl=0                          a session it ended: session_destroy(), or the old id of
 *                                        session_regenerate_id(true)
 *
 * The proxy strips the header before the response reaches the client, and never believes one
 * sent by a client. Protocol: packages/proxy/README.md ("The exact protocol").
 *
 * Limits (see docs/recipes/php.md): the app's own session_set_save_handler() replaces the one
 * installed here, so its destroys go unreported (the session then ends by idle timeout); a
 * session ended after the headers were sent (output before session_destroy()) is not reported;
 * session.auto_start=1 starts the session before this file runs.
 */

declare(strict_types=1);

if (PHP_SAPI === 'cli') {
    return; // a script run by hand, not a request
}

/**
 * The files (or whatever session.save_handler says) handler, noting the session this request
 * used and the ones it destroyed. Noted as they happen because the headers may go out after the
 * session is closed (output buffering sends them at the end of the request).
 */
final class HandoverSessionHandler extends SessionHandler
{
    /** The id of the session read or written last; '' when none or destroyed. */
    public static string $current = '';
    /** @var array<string, true> ids destroyed during this request */
    public static array $destroyed = [];

    public function read(string $id): string|false
    {
        self::$current = $id;
        return parent::read($id);
    }

    public function write(string $id, string $data): bool
    {
        self::$current = $id;
        unset(self::$destroyed[$id]);
        return parent::write($id, $data);
    }

    public function destroy(string $id): bool
    {
        self::$destroyed[$id] = true;
        if (self::$current === $id) {
            self::$current = '';
        }
        return parent::destroy($id);
    }
}

session_set_save_handler(new HandoverSessionHandler(), true);

header_register_callback(static function (): void {
    $ttls = [];
    foreach (array_keys(HandoverSessionHandler::$destroyed) as $id) {
        $ttls[(string) $id] = 0;
    }
    $current = session_status() === PHP_SESSION_ACTIVE ? session_id() : HandoverSessionHandler::$current;
    if ($current !== '' && $current !== false) {
        $ttls[$current] = max(1, (int) ini_get('session.gc_maxlifetime'));
    }
    $entries = [];
    foreach ($ttls as $id => $ttl) {
        // The header is a comma-separated list: an id PHP wrote with "," (sid_bits_per_character=6) cannot be carried.
        if ($id === '' || strpbrk($id, ", ;\"\t") !== false) {
            continue;
        }
        $entries[] = $id . '; ttl=' . $ttl;
    }
    if ($entries !== []) {
        header('X-Handover-Session: ' . implode(', ', $entries), false);
    }
});
