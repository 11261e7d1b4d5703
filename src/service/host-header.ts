/**
 * Which `Host` headers the status server answers. A web page can make a browser send requests
 * to 127.0.0.1 by pointing its own name there (DNS rebinding); the browser then calls the
 * status server same-origin and reads /status.json. The request still carries the page's name
 * in `Host`, so answering only loopback names, the address the server is bound to and the
 * configured `status-server.allowed_hosts` closes it. An IP literal other than the bound one
 * is refused as well: nothing needs it.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface HostHeader {
  /** Lower-case host name, IPv4 address, or IPv6 address without brackets. */
  name: string;
  port: number | undefined;
}

const NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?)*$/;

/** `name`, `name:port`, `[v6]` or `[v6]:port` as a Host header carries them; undefined when malformed. */
export function parseHostHeader(value: string): HostHeader | undefined {
  const text = value.trim().toLowerCase();
  let name: string;
  let portText: string | undefined;
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) {
    name = bracketed[1] as string;
    portText = bracketed[2];
    if (!isIPv6(name)) return undefined;
  } else {
    const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
    if (!match) return undefined;
    name = match[1] as string;
    portText = match[2];
    if (!isIPv4(name) && !NAME.test(name)) return undefined;
  }
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65535) return undefined;
  return { name, port };
}

export function isLoopbackHost(name: string): boolean {
  if (name === "localhost" || name === "::1") return true;
  return isIPv4(name) && name.startsWith("127.");
}

/** 0.0.0.0 and :: listen everywhere: no single address to answer for. */
export function isUnspecifiedAddress(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::" || ip === "[::]";
}

export class HostPolicy {
  private readonly allowed: HostHeader[];

  /** `boundIp` is answered too (when it is one address); `allowedHosts` as in the config. */
  constructor(boundIp: string, allowedHosts: readonly string[] = []) {
    this.allowed = [];
    for (const entry of allowedHosts) {
      const parsed = parseHostHeader(entry);
      if (parsed !== undefined) this.allowed.push(parsed);
    }
    const bound = boundIp.replace(/^\[|\]$/g, "").toLowerCase();
    if (!isUnspecifiedAddress(bound) && (isIPv4(bound) || isIPv6(bound))) {
      this.allowed.push({ name: bound, port: undefined });
    }
  }

  /** A request without Host (HTTP/1.0) comes from no browser and is answered. */
  allows(hostHeader: string | undefined): boolean {
    if (hostHeader === undefined) return true;
    const host = parseHostHeader(hostHeader);
    if (host === undefined) return false;
    if (isLoopbackHost(host.name)) return true;
    return this.allowed.some(
      (entry) => entry.name === host.name && (entry.port === undefined || entry.port === host.port),
    );
  }
}
