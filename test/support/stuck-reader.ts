// A client that subscribes and then does not read, with a tiny receive buffer, so the server's
// outbound queue for it really fills. Bun cannot shrink a socket's buffer (the kernel here lets
// an unread socket absorb ~36 MB), so the stuck reader is a few lines of Python. When told to,
// it reads what the server left it and reports what it saw.

import { startPythonStuckReader, subscribeFrameHex, type PythonStuckReader } from "./python-stuck-reader.ts";

const SCRIPT = `
import json, socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(bytes.fromhex(sys.argv[2]))
print("subscribed", flush=True)
sys.stdin.readline()
s.settimeout(1.0)
data, closed = b"", False
try:
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            closed = True
            break
        data += chunk
except socket.timeout:
    pass
except ConnectionResetError:
    # Dropped by the server with unread data on the way: a reset, which is a close too.
    closed = True
seqs, i = [], 0
while i + 2 <= len(data) and i + 2 + data[i + 1] <= len(data):
    if data[i] == 6:
        seqs.append(struct.unpack(">I", data[i + 6:i + 10])[0])
    i += 2 + data[i + 1]
print(json.dumps({"closed": closed, "updates": len(seqs), "last": seqs[-1] if seqs else 0,
                  "increasing": all(b > a for a, b in zip(seqs, seqs[1:]))}), flush=True)
`;

export interface StuckReport {
  /** The server closed the connection (it was dropped as stuck). */
  closed: boolean;
  updates: number;
  last: number;
  /** Every UPDATE's seq was above the one before (no repeat, no going back). */
  increasing: boolean;
}

export type StuckReader = PythonStuckReader<StuckReport>;

/** Subscribes to `auction` from a process that reads nothing until `report()`. */
export function startStuckReader(port: number, auction: number): Promise<StuckReader> {
  return startPythonStuckReader<StuckReport>("stuck reader", SCRIPT, [String(port), subscribeFrameHex(auction)]);
}
