import { LedgerError } from '../errors.js';

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Parses a text/event-stream body (WHATWG HTML §9.2) into events; an event over `maxEventBytes` fails the stream. */
export async function* readSse(stream: ReadableStream<Uint8Array>, maxEventBytes: number): AsyncGenerator<SseEvent> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let size = 0;
  const tooLarge = (): LedgerError => new LedgerError('response_too_large', `an SSE event exceeds ${maxEventBytes} bytes`);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (;;) {
        const end = /\r\n|\r|\n/.exec(buffer);
        if (!end) break;
        // a lone "\r" at the end may be the first half of "\r\n"
        if (end[0] === '\r' && end.index === buffer.length - 1 && !done) break;
        const line = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
          size = 0;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let fieldValue = colon < 0 ? '' : line.slice(colon + 1);
        if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1);
        if (field === 'event') event = fieldValue;
        else if (field === 'data') {
          size += fieldValue.length + 1;
          if (size > maxEventBytes) throw tooLarge();
          data.push(fieldValue);
        }
      }
      if (buffer.length > maxEventBytes) throw tooLarge();
      if (done) return;
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
}
