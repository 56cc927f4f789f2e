// The live feed read with fetch: EventSource cannot send an API key, so
// arbor's browser reads GET /api/v1/artifacts/$events as a stream and parses
// the Server-Sent Events itself. A Feed is an EventTarget like EventSource:
// it dispatches each message as a MessageEvent named by its SSE event type
// (artifact.created, artifact.updated, ...), and "open" and "error" as the
// connection comes and goes. It resumes with Last-Event-ID after a drop, so
// no event is lost in between.

// Feed follows url until close is called.
export class Feed extends EventTarget {
  // headers returns the request headers (the API key) for each connection.
  constructor(url, headers) {
    super();
    this.url = url;
    this.headers = headers;
    this.lastEventId = null;
    this.state = 'connecting';
    this.abort = new AbortController();
    this.run();
  }

  close() {
    this.abort.abort();
    this.setState('closed');
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new Event(s === 'open' ? 'open' : s === 'closed' ? 'close' : 'error'));
  }

  async run() {
    const signal = this.abort.signal;
    let delay = 1000;
    while (!signal.aborted) {
      let retry = delay;
      try {
        const h = this.headers();
        h.set('Accept', 'text/event-stream');
        if (this.lastEventId !== null) h.set('Last-Event-ID', this.lastEventId);
        const res = await fetch(this.url, { headers: h, signal, cache: 'no-store' });
        if (res.status === 401 || res.status === 403) {
          // The key is missing or refused: retrying with the same key is
          // pointless. The page asks for one and opens a new feed.
          this.dispatchEvent(new MessageEvent('unauthorized', { data: String(res.status) }));
          this.close();
          return;
        }
        if (!res.ok) {
          const after = Number(res.headers.get('Retry-After'));
          if (after > 0) retry = after * 1000;
          throw new Error(`feed: ${res.status}`);
        }
        // The server subscribes before it answers: from here on no event
        // is missed.
        this.setState('open');
        delay = 1000;
        await this.read(res.body, signal);
      } catch {
        if (signal.aborted) return;
      }
      this.setState('connecting');
      await sleep(retry, signal);
      delay = Math.min(delay * 2, 15000);
    }
  }

  // read parses the event stream as the HTML standard says: lines end in
  // CRLF, LF or CR; a blank line dispatches the message gathered so far.
  async read(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
    let buf = '';
    let data = [];
    let type = '';
    let first = true;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      if (first && buf.startsWith('\uFEFF')) buf = buf.slice(1);
      first = false;
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buf);
        // A CR at the end of what has come so far may be the first half
        // of a CRLF.
        if (!m || (m[0] === '\r' && m.index === buf.length - 1)) break;
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === '') {
          if (data.length > 0) {
            this.dispatchEvent(new MessageEvent(type || 'message', {
              data: data.join('\n'), lastEventId: this.lastEventId ?? '',
            }));
          }
          data = [];
          type = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        switch (field) {
          case 'data': data.push(val); break;
          case 'event': type = val; break;
          case 'id': if (!val.includes('\0')) this.lastEventId = val; break;
        }
      }
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
