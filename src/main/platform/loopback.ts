// Whether a host name or address is this machine: serve refuses other hosts without --allow-remote, and the
// remote client refuses plain http/ws to anything else (the token would cross a network in clear).
export function isLoopbackHost(host: string): boolean {
  // 127.0.0.0/8 as a dotted quad only: "127.evil.example" is a name anyone can point anywhere.
  return host === '::1' || host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
