import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import 'uplot/dist/uPlot.min.css';
import './globals.css';

export const metadata: Metadata = {
  title: 'Handover console',
  description: 'Workers, sessions and upgrades of the Handover supervisor',
  robots: { index: false, follow: false },
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
