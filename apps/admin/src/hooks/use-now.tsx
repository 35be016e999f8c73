'use client';

import { type ReactNode, createContext, useContext, useEffect, useState } from 'react';

/**
 * One clock for the whole page (uptimes, "3 min ago", the chart's right edge), ticking once a
 * second, instead of one timer per table cell.
 */
const NowContext = createContext<number>(0);

export function NowProvider({ children, intervalMs = 1000 }: { children: ReactNode; intervalMs?: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return <NowContext.Provider value={now}>{children}</NowContext.Provider>;
}

export const useNow = (): number => useContext(NowContext);
