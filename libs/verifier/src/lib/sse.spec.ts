import { LedgerError } from '../errors.js';
import { readSse, type SseEvent } from './sse.js';

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(enc.encode(chunk));
      c.close();
    },
  });
}

async function all(stream: ReadableStream<Uint8Array>, max = 1000): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readSse(stream, max)) out.push(e);
  return out;
}

describe('readSse', () => {
  it('parses events across chunk boundaries, CRLF, CR and LF, skipping comments', async () => {
    expect(
      await all(streamOf(': hi\r', '\nevent: manifest\r', '\ndata: a.b', '.c\r\n\r\n', 'event:manifest\rdata:x\r\rdata: 1\ndata: 2\n\n')),
    ).toEqual([
      { event: 'manifest', data: 'a.b.c' },
      { event: 'manifest', data: 'x' },
      { event: 'message', data: '1\n2' },
    ]);
  });

  it('drops an unterminated last event and fails on an oversized one', async () => {
    expect(await all(streamOf('event: manifest\ndata: cut'))).toEqual([]);
    await expect(all(streamOf(`data: ${'x'.repeat(50)}\n\n`), 20)).rejects.toBeInstanceOf(LedgerError);
    await expect(all(streamOf('x'.repeat(50)), 20)).rejects.toMatchObject({ code: 'response_too_large' });
  });
});
