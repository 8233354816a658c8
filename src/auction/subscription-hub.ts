// Local subscribers of each auction and the fan-out of UPDATE and CLOSED to them.

import { phaseAt } from "./auction.ts";
import { encodeUpdate } from "../protocol/codec.ts";
import { ErrorCode, Phase, UPDATE_FRAME_SIZE } from "../protocol/constants.ts";
import type { Connection } from "../net/connection.ts";
import type { Store } from "../store/store.ts";

export class SubscriptionHub {
  private readonly subscribers = new Map<number, Set<Connection>>();
  private readonly byConnection = new Map<Connection, Set<number>>();
  private readonly frame = new Uint8Array(UPDATE_FRAME_SIZE);

  constructor(
    private readonly store: Store,
    private readonly markDirty: (connection: Connection) => void,
  ) {}

  /** Answers SUBSCRIBE with the STATE snapshot and adds the connection to the auction's set. */
  subscribe(connection: Connection, req: number, auctionId: number, _since: number): void {
    connection.pending++;
    this.store.getAuction(auctionId).then(
      (auction) => {
        connection.pending--;
        if (connection.closed) return;
        if (auction === null) {
          connection.queueState(req, auctionId, Phase.UNKNOWN, 0, 0, 0, 0);
        } else {
          const phase = phaseAt(auction, this.store.now());
          connection.queueState(req, auctionId, phase, auction.seq, auction.amount, auction.leader, auction.endsAt);
        }
        this.add(connection, auctionId);
        this.markDirty(connection);
      },
      () => {
        connection.pending--;
        connection.queueError(req, ErrorCode.INTERNAL, "store unavailable");
        this.markDirty(connection);
      },
    );
  }

  unsubscribe(connection: Connection, auctionId: number): void {
    this.subscribers.get(auctionId)?.delete(connection);
    this.byConnection.get(connection)?.delete(auctionId);
  }

  /** Forgets a closed connection's subscriptions. */
  dropConnection(connection: Connection): void {
    const auctions = this.byConnection.get(connection);
    if (auctions === undefined) return;
    for (const auctionId of auctions) {
      const set = this.subscribers.get(auctionId);
      set?.delete(connection);
      if (set !== undefined && set.size === 0) this.subscribers.delete(auctionId);
    }
    this.byConnection.delete(connection);
  }

  /** Sends one accepted bid's UPDATE to every local subscriber of the auction. */
  publishUpdate(auctionId: number, seq: number, amount: number, leader: number, endsAt: number): void {
    const set = this.subscribers.get(auctionId);
    if (set === undefined || set.size === 0) return;
    encodeUpdate(this.frame, 0, auctionId, seq, amount, leader, endsAt);
    for (const connection of set) {
      connection.queueBytes(this.frame, 0, UPDATE_FRAME_SIZE);
      this.markDirty(connection);
    }
  }

  private add(connection: Connection, auctionId: number): void {
    let set = this.subscribers.get(auctionId);
    if (set === undefined) this.subscribers.set(auctionId, (set = new Set()));
    set.add(connection);
    let auctions = this.byConnection.get(connection);
    if (auctions === undefined) this.byConnection.set(connection, (auctions = new Set()));
    auctions.add(auctionId);
  }
}
