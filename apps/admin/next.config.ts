import type { NextConfig } from 'next';

const config: NextConfig = {
  // The workspace packages export their TypeScript sources; Next compiles them with the app.
  transpilePackages: ['@handover/config', '@handover/control-api', '@handover/process-table', '@handover/secrets'],
  // gzip would hold back server-sent events until a buffer fills; the console only serves
  // loopback (or sits behind a TLS proxy that compresses), so compression is not worth it.
  compress: false,
  poweredByHeader: false,
  reactStrictMode: true,
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'same-origin' },
          // The console must never be framed (clickjacking a "Detach and sync" button).
          { key: 'Content-Security-Policy', value: "frame-ancestors 'none'" },
          { key: 'X-Frame-Options', value: 'DENY' },
        ],
      },
    ];
  },
};

export default config;
