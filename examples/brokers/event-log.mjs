/**
 * What the example consumers do with an event: print it as one JSON line, once. Delivery is
 * at least once (a publish whose acknowledgement was lost is sent again), so an application
 * remembers the event ids it processed — in its own database, in the transaction that
 * records the payment — and skips one it has already seen.
 */
export class EventLog {
  #seen = new Set();

  handle(event) {
    if (this.#seen.has(event.event_id)) {
      console.error(`duplicate ${event.event_id} skipped`);
      return;
    }
    this.#seen.add(event.event_id);
    console.log(JSON.stringify(event));
  }
}
