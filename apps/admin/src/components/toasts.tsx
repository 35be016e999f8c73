'use client';

import { type ReactNode, createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';

/**
 * Passing confirmations ("Nothing to start", "Started web@3"): shown for a few seconds in a
 * corner, then gone; the event log keeps them. Outcomes that stay true for a while belong to
 * their row or pool instead (#10, item 1).
 */
export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

const TOAST_MS = 8000;

const ToastContext = createContext<(toast: Omit<Toast, 'id'>) => void>(() => {});

export const useToast = () => useContext(ToastContext);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  const push = useCallback((toast: Omit<Toast, 'id'>) => {
    const id = next.current++;
    setToasts((list) => [...list.slice(-3), { ...toast, id }]);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      {children}
      <div className="toasts" role="status" aria-live="polite" data-testid="toasts">
        {toasts.map((toast) => (
          <ToastItem key={toast.id} toast={toast} onDismiss={dismiss} />
        ))}
      </div>
    </ToastContext.Provider>
  );
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    if (paused) return;
    const timer = setTimeout(() => onDismiss(toast.id), toast.kind === 'error' ? TOAST_MS * 2 : TOAST_MS);
    return () => clearTimeout(timer);
  }, [paused, toast, onDismiss]);
  return (
    <div
      className={`toast toast-${toast.kind}`}
      data-testid="toast"
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
    >
      <p>{toast.text}</p>
      <button type="button" className="button button-ghost icon-button" onClick={() => onDismiss(toast.id)} aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}
