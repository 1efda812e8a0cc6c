import type { IncomingMessage } from 'node:http';
import { openBodyAccount } from './admission.js';
import { ClientGoneError } from './errors.js';

/**
 * Reads a request body, refusing more than `limit` bytes: `'too_large'` (the caller answers 413
 * and closes) as soon as the declared length or the bytes so far go over it, without reading on.
 *
 * On opsbot's {@link HttpServer}, every byte also counts against the listener's budget for
 * bodies in memory, and the body must arrive within the listener's body timeout: when either
 * fails this rejects with a `RequestRefusedError`, which the server answers (`503` with
 * `Retry-After`, or `408`). A client that goes away mid-body rejects it with {@link ClientGoneError}.
 *
 * @example
 * const raw = await readBody(req, 256 * 1024);
 * if (raw === 'too_large') return refuse(res, 413, { error: 'payload_too_large' });
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too_large');
  const account = openBodyAccount(req);
  // Events rather than async iteration: this is on every request's path, and cheaper.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      req.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        chunks.length = 0;
        resolve('too_large');
        return;
      }
      // No room: the account has refused itself, and its listener below has rejected.
      if (account && !account.take(chunk.length)) return;
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      account?.complete();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(req.destroyed ? new ClientGoneError() : error);
    };
    const onClose = () => {
      stop();
      reject(new ClientGoneError());
    };
    account?.onRefused((error) => {
      stop();
      chunks.length = 0;
      reject(error);
    });
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}
