/**
 * The result of an operator action, shown next to the button that caused it, in the API's
 * own words. Always rendered (empty when idle) so screen readers announce changes.
 */
export function Feedback({
  pending,
  error,
  success,
  testId,
}: {
  pending: string | null;
  error: string | null;
  success: string | null;
  testId?: string;
}) {
  const kind = pending !== null ? 'pending' : error !== null ? 'error' : success !== null ? 'success' : 'idle';
  const text = pending ?? error ?? success ?? '';
  return (
    <p className={`feedback feedback-${kind}`} role={kind === 'error' ? 'alert' : 'status'} aria-live="polite" data-testid={testId}>
      {kind === 'pending' ? <span className="spinner" aria-hidden="true" /> : null}
      {text}
    </p>
  );
}
