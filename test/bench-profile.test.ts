// The bench's CPU profile is summed by package, read from each function's file path.
import { expect, test } from 'vitest';
import { groupOf } from '../bench/lib/profile.ts';

test.each([
  ['file:///app/node_modules/grafast/dist/engine/executeBucket.js', 'executeBucket', 'grafast'],
  ['file:///app/node_modules/@dataplan/pg/dist/steps/pgSelect.js', 'execute', '@dataplan/pg'],
  // A package inside another's node_modules counts for itself.
  ['file:///app/node_modules/pino-http/node_modules/pino/lib/proto.js', 'write', 'pino'],
  ['file:///app/src/http/request-log.ts', 'log', 'tenantgraph'],
  ['node:internal/stream_base_commons', 'writeGeneric', 'node'],
  ['', 'writev', 'socket and log writes (with preemption after waking the peer)'],
  ['', '(garbage collector)', 'garbage collection'],
  ['', '(idle)', 'idle (waiting for I/O)'],
  ['', 'JSONStringify', 'native and runtime (V8, libuv, JSON)'],
])('%s %s counts for %s', (url, functionName, group) => {
  expect(groupOf(url, functionName)).toBe(group);
});
