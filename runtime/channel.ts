/**
 * Typed channels. An output port is a `Channel<T>`: an RxJS Subject of envelopes. Connecting an
 * output to an input subscribes a delivery lane to it, so fan-out (one output, many inputs) and
 * fan-in (many outputs, one input) are plain subscriptions.
 */
import { type Observable, Subject } from 'rxjs';
import { map } from 'rxjs/operators';

export interface Envelope<T> {
  readonly msg: T;
  /** `engine.port` of the sender, or `external:<label>`. */
  readonly from: string;
  /** The sender's Lamport time when the message left. */
  readonly lamport: number;
}

export class Channel<T> {
  private readonly subject = new Subject<Envelope<T>>();

  constructor(readonly label: string) {}

  get envelopes$(): Observable<Envelope<T>> {
    return this.subject.asObservable();
  }

  get messages$(): Observable<T> {
    return this.subject.pipe(map((e) => e.msg));
  }

  get observed(): boolean {
    return this.subject.observed;
  }

  publish(envelope: Envelope<T>): void {
    this.subject.next(envelope);
  }

  close(): void {
    this.subject.complete();
  }
}
