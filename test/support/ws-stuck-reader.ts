// A WebSocket subscriber that does not read, the /ws counterpart of stuck-reader.ts: a few
// lines of Python (stdlib only) with a tiny receive buffer do the handshake, send SUBSCRIBE
// as one masked binary message, then read nothing until told to, and report what they saw.

import { startPythonStuckReader, subscribeFrameHex, type PythonStuckReader } from "./python-stuck-reader.ts";
import type { StuckReport } from "./stuck-reader.ts";

const SCRIPT = `
import base64, json, os, socket, struct, sys
port, frame = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
           "Sec-WebSocket-Key: " + key + "\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n").encode())
head = b""
while b"\\r\\n\\r\\n" not in head:
    head += s.recv(1)
assert b" 101 " in head.split(b"\\r\\n")[0], head
mask = os.urandom(4)
s.sendall(bytes([0x82, 0x80 | len(frame)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(frame)))
print("subscribed", flush=True)
sys.stdin.readline()
s.settimeout(1.0)
data, closed = bytearray(), False
try:
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            closed = True
            break
        data += chunk
except (socket.timeout, ConnectionResetError):
    pass
seqs, i, one_frame_each = [], 0, True
while i + 2 <= len(data):
    opcode, n, p = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
    if n == 126:
        n, p = struct.unpack(">H", data[p:p + 2])[0], p + 2
    elif n == 127:
        n, p = struct.unpack(">Q", data[p:p + 8])[0], p + 8
    if p + n > len(data):
        break
    if opcode == 8:
        closed = True
    elif opcode == 2:
        one_frame_each = one_frame_each and n == 2 + data[p + 1]
        if data[p] == 6:
            seqs.append(struct.unpack(">I", data[p + 6:p + 10])[0])
    i = p + n
print(json.dumps({"closed": closed, "updates": len(seqs), "last": seqs[-1] if seqs else 0,
                  "increasing": all(b > a for a, b in zip(seqs, seqs[1:])), "oneFrameEach": one_frame_each}), flush=True)
`;

export interface WsStuckReport extends StuckReport {
  /** Every binary message held exactly one protocol frame. */
  oneFrameEach: boolean;
}

export type WsStuckReader = PythonStuckReader<WsStuckReport>;

/** Subscribes to `auction` over /ws from a process that reads nothing until `report()`. */
export function startWsStuckReader(httpPort: number, auction: number): Promise<WsStuckReader> {
  return startPythonStuckReader<WsStuckReport>("WebSocket stuck reader", SCRIPT, [String(httpPort), subscribeFrameHex(auction)]);
}
