// runService in real child processes: a service stopped by SIGTERM (a rolling deploy) answers the
// requests it is running before it releases Redis/the database and exits.
import { type ChildProcess, fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../packages/testkit/src/index.ts';

const fixture = fileURLToPath(new URL('./fixtures/slow-service.ts', import.meta.url));

interface Service {
  readonly child: ChildProcess;
  readonly port: number;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startService(env: Record<string, string>): Promise<Service> {
  const child = fork(fixture, [], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The runtime's readiness line, not the fixture's earlier `port` line: only then is a SIGTERM
  // handled by runService (before, it kills the process outright).
  await waitFor(() => /^port \d+$/m.test(output) && /^slow-service: listening on /m.test(output), {
    timeoutMs: 20_000,
    what: 'the service to be ready',
  });
  return { child, port: Number(/^port (\d+)$/m.exec(output)?.[1]), output: () => output, exited };
}

/** GET `path` on a keep-alive agent; resolves with the status and the whole body, or the socket error. */
function get(port: number, path: string, agent: Agent): Promise<{ status: number; body: string } | Error> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.end();
  });
}

/**
 * Sends `raw` (one or more HTTP/1.1 requests) on a fresh connection; `send` writes more later on
 * the same connection, `abort` destroys it; `received` is everything read so far.
 */
function rawConnection(port: number): {
  readonly send: (raw: string) => void;
  readonly abort: () => void;
  readonly received: () => string;
  readonly ended: Promise<void>;
} {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    received += chunk;
  });
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  return {
    send: (raw) => void socket.write(raw),
    abort: () => void socket.destroy(),
    received: () => received,
    ended,
  };
}

const getRequest = (path: string): string => `GET ${path} HTTP/1.1\r\nhost: localhost\r\n\r\n`;

/** Whether a TCP connection to `port` is accepted (the socket is closed at once). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once the fixture logged that its handler for `path` started. */
function handling(service: Service, path: string): Promise<void> {
  return waitFor(() => service.output().includes(`handling ${path}`), {
    timeoutMs: 10_000,
    what: 'the request to reach its handler',
  });
}

/** Resolves once the service no longer accepts connections (its first stop signal was handled). */
function stoppedListening(service: Service): Promise<void> {
  return waitFor(async () => !(await accepts(service.port)), {
    timeoutMs: 5_000,
    what: 'the service to stop accepting connections',
  });
}

describe('runService', () => {
  it('answers a request still running when SIGTERM arrives, then runs the close hook and exits 0', async () => {
    const service = await startService({ HANDLE_MS: '500' });
    const idle = new Agent({ keepAlive: true });
    const busy = new Agent({ keepAlive: true });
    try {
      // An idle keep-alive connection must not hold the stop open (Node's keep-alive timeout is 5 s).
      expect(await get(service.port, '/warm', idle)).toEqual({ status: 200, body: 'answered /warm' });
      const inFlight = get(service.port, '/running', busy);
      await handling(service, '/running');
      const stoppedAt = Date.now();
      service.child.kill('SIGTERM');
      expect(await inFlight).toEqual({ status: 200, body: 'answered /running' });
      expect(await service.exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(3_000);
      const output = service.output();
      expect(output).toContain('closed');
      expect(output.indexOf('answered /running')).toBeLessThan(output.indexOf('closed'));
    } finally {
      idle.destroy();
      busy.destroy();
    }
  });

  it('cuts off requests still running at the shutdown deadline, then runs the close hook and exits 1', async () => {
    const service = await startService({ HANDLE_MS: '20000', SHUTDOWN_TIMEOUT_MS: '300' });
    const agent = new Agent({ keepAlive: true });
    try {
      const inFlight = get(service.port, '/stuck', agent);
      await handling(service, '/stuck');
      const stoppedAt = Date.now();
      service.child.kill('SIGTERM');
      expect(await inFlight).toBeInstanceOf(Error);
      expect(await service.exited).toBe(1);
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
      expect(service.output()).toContain('1 request(s) still running after 300 ms');
      expect(service.output()).toContain('closed');
      expect(service.output()).not.toContain('answered /stuck');
    } finally {
      agent.destroy();
    }
  });

  it('exits at once on a second SIGTERM while requests are still running', async () => {
    const service = await startService({ HANDLE_MS: '20000' });
    const agent = new Agent({ keepAlive: true });
    try {
      const inFlight = get(service.port, '/stuck', agent);
      await handling(service, '/stuck');
      const stoppedAt = Date.now();
      service.child.kill('SIGTERM');
      // The first signal is handled before the second: wait until the service stopped listening.
      await stoppedListening(service);
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(1);
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
      expect(await inFlight).toBeInstanceOf(Error);
    } finally {
      agent.destroy();
    }
  });

  it('waits for a handler whose client went away before it runs the close hook', async () => {
    const service = await startService({ HANDLE_MS: '1200' });
    const connection = rawConnection(service.port);
    connection.send(getRequest('/abandoned'));
    await handling(service, '/abandoned');
    service.child.kill('SIGTERM');
    await stoppedListening(service);
    connection.abort();
    expect(await service.exited).toBe(0);
    const output = service.output();
    expect(output).toContain('answered /abandoned');
    expect(output.indexOf('answered /abandoned')).toBeLessThan(output.indexOf('closed'));
  });

  it('waits for the promise of an async handler that keeps working after it answered', async () => {
    const service = await startService({ HANDLE_MS: '100', WORK_AFTER_MS: '800' });
    const agent = new Agent({ keepAlive: true });
    try {
      const inFlight = get(service.port, '/row', agent);
      await handling(service, '/row');
      service.child.kill('SIGTERM');
      expect(await inFlight).toEqual({ status: 200, body: 'answered /row' });
      expect(await service.exited).toBe(0);
      const output = service.output();
      expect(output).toContain('completed /row');
      expect(output.indexOf('completed /row')).toBeLessThan(output.indexOf('closed'));
    } finally {
      agent.destroy();
    }
  });

  it('waits for a request listener added after start returned, and for the promise it returned', async () => {
    const service = await startService({ LATE_LISTENER: '1', HANDLE_MS: '100', WORK_AFTER_MS: '800' });
    const agent = new Agent({ keepAlive: true });
    try {
      const inFlight = get(service.port, '/late', agent);
      await handling(service, '/late');
      service.child.kill('SIGTERM');
      expect(await inFlight).toEqual({ status: 200, body: 'answered /late' });
      expect(await service.exited).toBe(0);
      const output = service.output();
      expect(output).toContain('completed /late');
      expect(output.indexOf('completed /late')).toBeLessThan(output.indexOf('closed'));
    } finally {
      agent.destroy();
    }
  });

  it.each([
    ['no listener (Node writes 100 Continue and emits request)', undefined, '100-continue'],
    ['a checkContinue listener that answers the request itself', 'checkContinue', '100-continue'],
    ['a checkContinue listener that re-emits request', 'checkContinue-reemit', '100-continue'],
    ['a checkExpectation listener', 'checkExpectation', 'x-custom'],
  ])(
    'waits for a request with an Expect header handled by %s, and closes its keep-alive connection',
    async (_how, listener, expectation) => {
      const service = await startService({
        HANDLE_MS: '300',
        WORK_AFTER_MS: '600',
        // Below Node's 5 s keep-alive timeout: a connection left open after the answer cuts the stop.
        SHUTDOWN_TIMEOUT_MS: '3000',
        ...(listener === undefined ? {} : { EXPECT_LISTENER: listener }),
      });
      const connection = rawConnection(service.port);
      connection.send(
        `POST /expect HTTP/1.1\r\nhost: localhost\r\nexpect: ${expectation}\r\ncontent-length: 2\r\n\r\nhi`,
      );
      await handling(service, '/expect');
      service.child.kill('SIGTERM');
      await stoppedListening(service);
      await connection.ended;
      expect(await service.exited).toBe(0);
      expect(connection.received()).toMatch(/HTTP\/1\.1 200 [\s\S]*connection: close[\s\S]*answered \/expect$/i);
      const output = service.output();
      expect(output).toContain('completed /expect');
      expect(output.indexOf('completed /expect')).toBeLessThan(output.indexOf('closed'));
    },
  );

  it('counts a request re-emitted by a checkContinue listener after its client left as finished once it answers', async () => {
    const service = await startService({
      HANDLE_MS: '300',
      EXPECT_LISTENER: 'checkContinue-reemit-after-abort',
      SHUTDOWN_TIMEOUT_MS: '3000',
    });
    const connection = rawConnection(service.port);
    connection.send('POST /gone HTTP/1.1\r\nhost: localhost\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n');
    await waitFor(() => service.output().includes('expecting /gone'), {
      timeoutMs: 5_000,
      what: 'the checkContinue listener to run',
    });
    connection.abort();
    await handling(service, '/gone');
    const stoppedAt = Date.now();
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(2_500);
    const output = service.output();
    expect(output).not.toContain('still running');
    expect(output).toContain('answered /gone');
    expect(output.indexOf('answered /gone')).toBeLessThan(output.indexOf('closed'));
  });

  it('counts a response the handler destroys while its client is connected as finished', async () => {
    const service = await startService({ HANDLE_MS: '300', DESTROY_RESPONSE: '1', SHUTDOWN_TIMEOUT_MS: '3000' });
    const agent = new Agent({ keepAlive: true });
    try {
      const inFlight = get(service.port, '/destroyed', agent);
      await handling(service, '/destroyed');
      const stoppedAt = Date.now();
      service.child.kill('SIGTERM');
      expect(await inFlight).toBeInstanceOf(Error);
      expect(await service.exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(2_500);
      const output = service.output();
      expect(output).not.toContain('still running');
      expect(output.indexOf('destroyed /destroyed')).toBeGreaterThan(-1);
      expect(output.indexOf('destroyed /destroyed')).toBeLessThan(output.indexOf('closed'));
    } finally {
      agent.destroy();
    }
  });

  it('refuses with 503 a request with Expect: 100-continue pipelined after SIGTERM, without 100 Continue', async () => {
    const service = await startService({ HANDLE_MS: '800', EXPECT_LISTENER: 'checkContinue' });
    const connection = rawConnection(service.port);
    connection.send(getRequest('/first'));
    await handling(service, '/first');
    service.child.kill('SIGTERM');
    await stoppedListening(service);
    connection.send('POST /second HTTP/1.1\r\nhost: localhost\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n');
    await connection.ended;
    expect(await service.exited).toBe(0);
    const received = connection.received();
    expect(received).toContain('answered /first');
    expect(received).toMatch(/HTTP\/1\.1 503 [\s\S]*connection: close/i);
    expect(received).not.toContain('100 Continue');
    expect(service.output()).not.toContain('handling /second');
  });

  it('logs the class and code of each request listener that rejects, never its message, and keeps serving', async () => {
    const service = await startService({ HANDLE_MS: '10', REJECTING_LISTENER: '1' });
    const agent = new Agent({ keepAlive: true });
    try {
      expect(await get(service.port, '/one', agent)).toEqual({ status: 200, body: 'answered /one' });
      expect(await get(service.port, '/two', agent)).toEqual({ status: 200, body: 'answered /two' });
      await waitFor(() => service.output().split('request listener failed').length === 3, {
        timeoutMs: 5_000,
        what: 'one log line per rejection',
      });
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
      const output = service.output();
      expect(output).toContain('slow-service: a request listener failed: AuditWriteError ERR_AUDIT_WRITE\n');
      expect(output).not.toContain('secret-token-value');
      expect(output).not.toContain('audit row');
    } finally {
      agent.destroy();
    }
  });

  it.each([
    ['an upgrade', 'GET /socket HTTP/1.1\r\nhost: localhost\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n'],
    ['a CONNECT', 'CONNECT upstream.example:443 HTTP/1.1\r\nhost: upstream.example:443\r\n\r\n'],
  ])(
    'destroys %s connection still open at the shutdown deadline, then runs the close hook and exits 1',
    async (_kind, raw) => {
      const service = await startService({ HANDLE_MS: '10', TUNNELS: 'open', SHUTDOWN_TIMEOUT_MS: '300' });
      const connection = rawConnection(service.port);
      connection.send(raw);
      await waitFor(() => service.output().includes('tunnel '), { timeoutMs: 5_000, what: 'the tunnel to open' });
      const stoppedAt = Date.now();
      service.child.kill('SIGTERM');
      const exited = await Promise.race([service.exited, sleep(5_000).then(() => 'still running' as const)]);
      expect(exited).toBe(1);
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
      await connection.ended;
      expect(service.output()).toContain('slow-service: 1 upgraded or CONNECT connection(s) still open after 300 ms');
      expect(service.output()).toContain('closed');
    },
  );

  it('counts upgrade and CONNECT connections still open in the second-signal line', async () => {
    const service = await startService({ HANDLE_MS: '10', TUNNELS: 'open' });
    const upgrade = rawConnection(service.port);
    upgrade.send('GET /socket HTTP/1.1\r\nhost: localhost\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n');
    await waitFor(() => service.output().includes('tunnel /socket'), { timeoutMs: 5_000, what: 'the tunnel to open' });
    service.child.kill('SIGTERM');
    await stoppedListening(service);
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(1);
    expect(service.output()).toContain(
      'slow-service: stopped at once (second signal), 0 request(s) and 1 upgraded or CONNECT connection(s) cut off\n',
    );
    upgrade.abort();
  });

  it('waits for upgrade connections the app ends itself on SIGTERM, then exits 0', async () => {
    const service = await startService({ HANDLE_MS: '10', TUNNELS: 'end-on-stop', SHUTDOWN_TIMEOUT_MS: '3000' });
    const connection = rawConnection(service.port);
    connection.send('GET /socket HTTP/1.1\r\nhost: localhost\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n');
    await waitFor(() => service.output().includes('tunnel /socket'), { timeoutMs: 5_000, what: 'the tunnel to open' });
    service.child.kill('SIGTERM');
    // The app ended its side; the client ends its own in turn (as a WebSocket peer answers a close frame).
    await connection.ended;
    expect(await service.exited).toBe(0);
    expect(service.output()).toContain('closed');
  });

  it('refuses with 503 a request pipelined after SIGTERM, without running its handler', async () => {
    const service = await startService({ HANDLE_MS: '800' });
    const connection = rawConnection(service.port);
    connection.send(getRequest('/first'));
    await handling(service, '/first');
    service.child.kill('SIGTERM');
    await stoppedListening(service);
    connection.send(getRequest('/second'));
    await connection.ended;
    expect(await service.exited).toBe(0);
    const received = connection.received();
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received).toContain('answered /first');
    expect(received).toMatch(/HTTP\/1\.1 503 [\s\S]*retry-after: 1/i);
    expect(received).toMatch(/HTTP\/1\.1 503 [\s\S]*connection: close/i);
    expect(service.output()).not.toContain('handling /second');
  });

  it('logs the class of a failing close hook, never its message, and exits 1', async () => {
    const service = await startService({ HANDLE_MS: '10', CLOSE: 'fail' });
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(1);
    expect(service.output()).toContain('slow-service: close failed: DatabaseCloseError');
    expect(service.output()).not.toContain('/secret/path');
  });

  it('exits 1 with a log line when the close hook does not finish within the shutdown timeout', async () => {
    const service = await startService({ HANDLE_MS: '10', CLOSE: 'hang', SHUTDOWN_TIMEOUT_MS: '300' });
    const stoppedAt = Date.now();
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(1);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(service.output()).toContain('slow-service: close did not finish within 300 ms');
  });

  it('refuses a shutdownTimeoutMs that timers cannot hold (above 2^31 - 1 ms)', async () => {
    const child = fork(fixture, [], {
      env: { PATH: process.env.PATH ?? '', SHUTDOWN_TIMEOUT_MS: String(2 ** 31) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    children.push(child);
    let output = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(output).toContain('shutdownTimeoutMs must be');
    expect(output).toContain('2147483647');
  });
});
