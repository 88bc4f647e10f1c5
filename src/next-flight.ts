// One query for many callers without ever answering one of them with what was read before it asked: a
// caller that comes while the query runs waits for the NEXT run, which starts once this one ends and is
// shared by everyone who came meanwhile. 1,000 requests arriving together cost two or three runs, and each
// answer was read after its request came (a page must never be answered from bounds older than its request:
// the cursors pruned since would be missing from it without a 410).

export class NextFlight<T> {
  #running: Promise<T> | undefined
  #next: Promise<T> | undefined

  constructor (private readonly run: () => Promise<T>) {}

  async get (): Promise<T> {
    if (this.#next !== undefined) return await this.#next
    if (this.#running === undefined) return await this.#start()
    const next = this.#running.then(() => undefined, () => undefined).then(async () => {
      this.#next = undefined
      return await this.#start()
    })
    this.#next = next
    return await next
  }

  async #start (): Promise<T> {
    const running = this.run()
    this.#running = running
    const done = (): void => { if (this.#running === running) this.#running = undefined }
    running.then(done, done)
    return await running
  }
}
