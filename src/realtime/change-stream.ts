// One subscription's events as the async iterator grafast's `listen` step consumes:
// pushed in the order they arrive, ended by the client (return), by the server with a
// reason (fail), or when the client falls too far behind (a bounded buffer, so a slow
// reader cannot make the server hold its events without limit).
//
// grafast renders an event (reads its row as the subscriber) between one next() and
// the following one, so an event is handed over only with one of the process's read
// slots, given back at the next call: however many subscribers one write reaches, at
// most SUBSCRIPTION_READ_CONCURRENCY of their reads hold a pool connection at once, and
// the rest of the pool keeps serving requests. Waiting events stay in the buffer. A slot
// refused (the subscriber's budget is spent) ends the subscription with that refusal.
import { SafeError } from 'grafast';
import type { ErrorCode } from '../errors/catalogue.ts';

export class ChangeStream<T> implements AsyncIterableIterator<T> {
  readonly #buffer: T[] = [];
  readonly #waiting: Array<PromiseWithResolvers<IteratorResult<T>>> = [];
  readonly #maxBuffered: number;
  readonly #readSlot: () => Promise<() => void>;
  #ended: { error?: Error } | undefined;
  #onEnd: (() => void) | undefined;
  /** Gives back the slot of the event being rendered. */
  #release: (() => void) | undefined;
  #returned = false;

  constructor(maxBuffered: number, readSlot: () => Promise<() => void>) {
    this.#maxBuffered = maxBuffered;
    this.#readSlot = readSlot;
  }

  /** Called once, however the stream ends. */
  onEnd(cleanup: () => void): void {
    this.#onEnd = cleanup;
  }

  push(value: T): void {
    if (this.#ended) return;
    const waiting = this.#waiting.shift();
    if (waiting) return waiting.resolve({ value, done: false });
    if (this.#buffer.length >= this.#maxBuffered) {
      return this.fail(
        'SUBSCRIPTION_INTERRUPTED',
        `This subscription fell more than ${this.#maxBuffered} events behind and was ended; refetch, then subscribe again.`,
      );
    }
    this.#buffer.push(value);
  }

  /** Ends the stream with an error the client receives with its code. */
  fail(code: ErrorCode, message: string): void {
    this.#end(new SafeError(message, { code }));
  }

  async next(): Promise<IteratorResult<T>> {
    this.#giveBackSlot();
    const result = await this.#take();
    if (result.done) return result;
    let release: () => void;
    try {
      release = await this.#readSlot();
    } catch (error) {
      // Refused a slot (the subscriber's budget is spent): the subscription ends with the refusal.
      this.#end(error as Error);
      throw error;
    }
    // Returned by the client while waiting: the slot goes straight back.
    if (this.#returned) {
      release();
      return { value: undefined, done: true };
    }
    this.#release = release;
    return result;
  }

  #take(): Promise<IteratorResult<T>> {
    if (this.#buffer.length > 0) return Promise.resolve({ value: this.#buffer.shift()!, done: false });
    if (this.#ended)
      return this.#ended.error
        ? Promise.reject(this.#ended.error)
        : Promise.resolve({ value: undefined, done: true });
    const waiting = Promise.withResolvers<IteratorResult<T>>();
    this.#waiting.push(waiting);
    return waiting.promise;
  }

  #giveBackSlot(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  return(): Promise<IteratorResult<T>> {
    this.#returned = true;
    this.#giveBackSlot();
    this.#end();
    this.#buffer.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.#returned = true;
    this.#giveBackSlot();
    this.#end(error instanceof Error ? error : undefined);
    this.#buffer.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = error ? { error } : {};
    for (const waiting of this.#waiting.splice(0)) {
      if (error) waiting.reject(error);
      else waiting.resolve({ value: undefined, done: true });
    }
    const cleanup = this.#onEnd;
    this.#onEnd = undefined;
    cleanup?.();
  }
}
